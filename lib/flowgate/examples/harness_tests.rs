//! Testing flows with the harness: each test gets an isolated server and asserts on typed
//! records. Run the tests with `cargo test -p flowgate --example harness_tests`.

use flowgate::{flow, task};

#[task(retries = 1)]
fn parse(line: String) -> Result<u32, std::num::ParseIntError> {
    line.trim().parse()
}

#[flow]
fn sum_lines(text: String) -> Result<u32, flowgate::TaskError> {
    text.lines().map(|l| parse::run(l.to_owned())).sum()
}

fn main() {
    println!("{:?}", sum_lines("1\n2\n3".to_owned()));
}

#[cfg(test)]
mod tests {
    use flowgate::testing::harness;
    use flowgate::{FlowError, StateType, TaskError};

    use super::*;

    #[test]
    fn a_good_file_is_summed_and_every_line_recorded() {
        let h = harness();
        assert_eq!(sum_lines("1\n2\n3".to_owned()).unwrap(), 6);
        let run = &h.flow_runs_of("sum-lines")[0];
        assert_eq!(run.state, StateType::Completed);
        assert_eq!(run.result::<u32>(), Some(6));
        let parsed = h.task_runs_in(run);
        assert_eq!(parsed.len(), 3);
        assert!(parsed.iter().all(|t| t.state == StateType::Completed));
    }

    #[test]
    fn a_bad_line_fails_the_flow_with_the_parse_error() {
        let h = harness();
        let Err(FlowError::Failed(error)) = sum_lines::run("1\nx".to_owned()) else {
            panic!("the flow fails");
        };
        let task_error = error.downcast_ref::<TaskError>().expect("a task failed");
        assert!(task_error.user_error::<std::num::ParseIntError>().is_some());
        let bad = &h.task_runs_of("parse")[1];
        assert_eq!(
            (bad.state, bad.run_count),
            (StateType::Failed, 2),
            "retried once"
        );
    }
}
