#[flowgate::flow(task_runner = flowgate::ThreadPoolTaskRunner::new(0))]
fn nothing_runs() {}

fn main() {}
