//! AWS console addresses for the things the dashboard shows.

/// The Step Functions console page of one execution.
pub fn execution_url(region: &str, execution_arn: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"
    )
}

/// The region inside an ARN (`arn:aws:states:<region>:...`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_page_of_the_region() {
        let arn = "arn:aws:states:eu-west-1:123456789012:execution:scones-workflow:run-1";
        assert_eq!(arn_region(arn), Some("eu-west-1"));
        assert_eq!(
            execution_url("eu-west-1", arn),
            "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:scones-workflow:run-1"
        );
        assert_eq!(arn_region("not-an-arn"), None);
    }
}
