//! An async flow: async tasks awaited directly, submitted and mapped (`.await` on their
//! futures), and started on tokio tasks that keep the run's context, so every task run is
//! recorded in the flow run. Run with `cargo run -p flowgate --example async_flow`.

use std::time::Duration;

use flowgate::{RunContext, flow, task};

/// Fetches one page of numbers (a stand-in for an HTTP call).
#[task(retries = 2, retry_delay = 0.1, timeout = 2)]
async fn fetch_page(page: u32) -> Vec<u32> {
    tokio::time::sleep(Duration::from_millis(20 * u64::from(page % 5))).await;
    (page * 10..page * 10 + 3).collect()
}

#[task]
async fn total(pages: Vec<Vec<u32>>) -> u32 {
    pages.iter().flatten().sum()
}

#[flow(log_prints)]
async fn crawl(pages: u32) -> u32 {
    // Awaited directly: a task run, recorded like a synchronous one.
    let mut fetched = vec![fetch_page(0).await];
    // Submitted: they run concurrently as tokio tasks; their futures are awaited.
    for page in fetch_page::map(1..pages) {
        fetched.push(page.await.expect("a page"));
    }
    // Spawned by hand: `RunContext::scope` keeps them inside this flow run.
    let ctx = RunContext::current();
    let mut set = tokio::task::JoinSet::new();
    for page in [100, 101] {
        set.spawn(ctx.scope(fetch_page(page)));
    }
    while let Some(page) = set.join_next().await {
        fetched.push(page.expect("a spawned page"));
    }
    let sum = total(fetched).await;
    println!("the pages add up to {sum}");
    sum
}

#[tokio::main]
async fn main() {
    match crawl::run(4).await {
        Ok(sum) => assert_eq!(sum, 6228),
        Err(e) => {
            eprintln!("the crawl failed: {e}");
            std::process::exit(1);
        }
    }
}
