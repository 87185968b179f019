//! The bucket's test images: the keys test executions pick from.
//!
//! The `test/` listing is the truth; when it is empty (or not listable) `test.lst` (the
//! SageMaker .lst file `scones stage --aws` uploads: `index \t label \t path`, paths
//! relative to `test/`) names them.

use crate::capture::get_object;
use crate::error::AwsError;

/// Prefix of the test split.
pub const TEST_PREFIX: &str = "test/";

/// The .lst file of the test split.
pub const TEST_LST: &str = "test.lst";

/// Every key under `prefix` (all pages), directory markers left out.
pub async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| !k.ends_with('/'))
                .map(str::to_owned),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
            _ => return Ok(keys),
        }
    }
}

/// Keys named by a .lst file's third column, under `prefix`.
pub fn keys_of_lst(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let path = line.split('\t').nth(2)?.trim();
            (!path.is_empty()).then(|| format!("{prefix}{}", path.trim_start_matches('/')))
        })
        .collect()
}

/// The test keys: the `test/` listing, or `test.lst` when the listing is empty.
pub async fn test_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<String>, AwsError> {
    let listed = list_keys(s3, bucket, TEST_PREFIX).await?;
    if !listed.is_empty() {
        return Ok(listed);
    }
    match get_object(s3, bucket, TEST_LST).await {
        Ok(bytes) => Ok(keys_of_lst(&String::from_utf8_lossy(&bytes), TEST_PREFIX)),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lst_paths_become_keys() {
        let lst = "0\t0\tbicycle_s_000513.png\n1\t1.000000\tmotorcycle_s_000001.png\n\nbad line\n";
        assert_eq!(
            keys_of_lst(lst, TEST_PREFIX),
            vec![
                "test/bicycle_s_000513.png".to_owned(),
                "test/motorcycle_s_000001.png".to_owned()
            ]
        );
    }
}
