//! What the model examples measure about the machine and where they find the data.

use std::path::PathBuf;

/// The shared CIFAR-100 bicycle/motorcycle images: `$SCONES_SHARED_DATA`, or
/// `../shared/data/cifar100-bikes` next to the repository.
pub fn shared_data_dir() -> PathBuf {
    std::env::var_os("SCONES_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cifar100-bikes")
        })
}

/// CPU time of this process in seconds (Linux `/proc/self/stat` utime + stime, 10 ms
/// ticks), threads that already exited included: training runs its replicas on thread
/// pools that end with it. Unlike wall time it does not grow when other work shares the
/// cores, so it is the number to compare between noisy runs. `None` elsewhere.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` shows them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
