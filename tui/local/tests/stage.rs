//! Staging from a CIFAR-format archive the test writes, from a labelled PNG folder, and from
//! a download served on 127.0.0.1; corrupt inputs are named and leave the bucket untouched.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::path::Path;

use scones_local::stage::{
    self, DownloadError, DownloadSource, Source, StageError, SyntheticSpec, read_lst, read_manifest,
};
use scones_local::{LocalBucket, NoProgress};
use support::{Row, cifar_archive, png, row, serve};

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

fn rgb_at(png_bytes: &[u8], x: u32, y: u32) -> [u8; 3] {
    let img = image::load_from_memory(png_bytes).unwrap().into_rgb8();
    img.get_pixel(x, y).0
}

fn train_rows() -> Vec<Row> {
    vec![
        row("bike_s_000001.png", 8, 1),
        row("apple_s_000001.png", 0, 2),
        row("motorbike_s_000001.png", 48, 3),
        row("bicycle_s_000002.png", 8, 4),
        row("lion_s_000001.png", 43, 5),
    ]
}

fn test_rows() -> Vec<Row> {
    vec![
        row("bike_s_000010.png", 8, 6),
        row("moped_s_000010.png", 48, 7),
    ]
}

#[test]
fn stages_only_bicycles_and_motorcycles_from_a_cifar_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("cifar-100-python.tar.gz");
    let train = train_rows();
    cifar_archive(&archive, Some(&train), Some(&test_rows()));
    let bucket = LocalBucket::new(tmp.path().join("bucket"));

    let manifest = stage::stage(&bucket, &Source::Cifar(archive), &NoProgress).unwrap();

    assert!(!manifest.synthetic);
    assert_eq!((manifest.train.bicycle, manifest.train.motorcycle), (2, 1));
    assert_eq!((manifest.test.bicycle, manifest.test.motorcycle), (1, 1));
    let lst = read_lst(&bucket.root().join("train.lst")).unwrap();
    let listed: Vec<(&str, u8)> = lst
        .iter()
        .map(|e| (e.path.as_str(), e.label.index() as u8))
        .collect();
    assert_eq!(
        listed,
        [
            ("bicycle_s_000002.png", 0),
            ("bike_s_000001.png", 0),
            ("motorbike_s_000001.png", 1)
        ]
    );
    // Tab-separated index, label, path.
    let text = std::fs::read_to_string(bucket.root().join("test.lst")).unwrap();
    assert_eq!(text, "0\t0\tbike_s_000010.png\n1\t1\tmoped_s_000010.png\n");
    assert!(!bucket.root().join("train/apple_s_000001.png").exists());

    // Pixels: CIFAR rows are planar (R plane, G plane, B plane); pixel (x, y) of the PNG is
    // (R[y*32+x], G[y*32+x], B[y*32+x]).
    let staged = std::fs::read(bucket.root().join("train/motorbike_s_000001.png")).unwrap();
    let source = &train[2].pixels;
    for (x, y) in [(0u32, 0u32), (5, 3), (31, 31)] {
        let i = (y * 32 + x) as usize;
        assert_eq!(
            rgb_at(&staged, x, y),
            [source[i], source[1024 + i], source[2048 + i]]
        );
    }
    assert_eq!(read_manifest(&bucket).unwrap(), Some(manifest));
}

fn stage_folder(
    root: &Path,
    files: &[(&str, &str, Vec<u8>, &str)],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = root.join("images");
    let mut csv = String::from("split,filename,label,class_name,cifar100_fine_label\n");
    for (split, name, bytes, label) in files {
        std::fs::create_dir_all(dir.join(split)).unwrap();
        std::fs::write(dir.join(split).join(name), bytes).unwrap();
        csv.push_str(&format!("{split},{name},{label},x,0\n"));
    }
    let labels = root.join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    (dir, labels)
}

#[test]
fn stages_a_png_folder_with_labels_from_the_csv_not_the_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, labels) = stage_folder(
        tmp.path(),
        &[
            // The names say the opposite of the labels: labels must come from the CSV.
            ("train", "motorcycle_1.png", png([10, 20, 30]), "0"),
            ("train", "bicycle_1.png", png([40, 50, 60]), "1"),
            ("test", "a.png", png([1, 2, 3]), "0"),
            ("test", "b.png", png([4, 5, 6]), "1"),
        ],
    );
    let bucket = LocalBucket::new(tmp.path().join("bucket"));
    let manifest = stage::stage(&bucket, &Source::Images { dir, labels }, &NoProgress).unwrap();
    assert_eq!(manifest.train.total(), 2);
    let lst = read_lst(&bucket.root().join("train.lst")).unwrap();
    let listed: Vec<(&str, u8)> = lst
        .iter()
        .map(|e| (e.path.as_str(), e.label.index() as u8))
        .collect();
    assert_eq!(listed, [("bicycle_1.png", 1), ("motorcycle_1.png", 0)]);
    assert_eq!(
        std::fs::read(bucket.root().join("train/bicycle_1.png")).unwrap(),
        png([40, 50, 60])
    );
}

fn leftovers(bucket: &LocalBucket) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(bucket.root()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn a_corrupt_image_is_named_and_the_previous_data_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = LocalBucket::new(tmp.path().join("bucket"));
    let first = stage::stage(
        &bucket,
        &Source::Synthetic {
            spec: SyntheticSpec {
                train_per_class: 3,
                test_per_class: 2,
                seed: 1,
            },
            reason: "test".into(),
        },
        &NoProgress,
    )
    .unwrap();
    let mut truncated = png([1, 2, 3]);
    truncated.truncate(20);
    let (dir, labels) = stage_folder(
        tmp.path(),
        &[
            ("train", "good.png", png([9, 9, 9]), "0"),
            ("train", "broken.png", truncated, "1"),
            ("test", "a.png", png([1, 2, 3]), "0"),
            ("test", "b.png", png([4, 5, 6]), "1"),
        ],
    );
    let err = stage::stage(&bucket, &Source::Images { dir, labels }, &NoProgress).unwrap_err();
    assert!(
        matches!(&err, StageError::CorruptImage { path, .. } if path.ends_with("train/broken.png")),
        "{err:?}"
    );
    assert!(err.to_string().contains("broken.png"));
    // An image of another size is refused by name too, not left to fail training later.
    let big = {
        let mut out = Vec::new();
        image::write_buffer_with_format(
            &mut std::io::Cursor::new(&mut out),
            &vec![7u8; 64 * 64 * 3],
            64,
            64,
            image::ExtendedColorType::Rgb8,
            image::ImageFormat::Png,
        )
        .unwrap();
        out
    };
    let (dir, labels) = stage_folder(
        &tmp.path().join("sized"),
        &[
            ("train", "good.png", png([9, 9, 9]), "0"),
            ("train", "big.png", big, "1"),
            ("test", "a.png", png([1, 2, 3]), "0"),
            ("test", "b.png", png([4, 5, 6]), "1"),
        ],
    );
    let err = stage::stage(&bucket, &Source::Images { dir, labels }, &NoProgress).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("big.png") && message.contains("64x64") && message.contains("32x32"),
        "{message}"
    );
    // Nothing of the failed stages is visible; the previous stage is intact.
    assert_eq!(read_manifest(&bucket).unwrap(), Some(first));
    assert!(!bucket.root().join("train/good.png").exists());
    assert_eq!(read_lst(&bucket.root().join("train.lst")).unwrap().len(), 6);
    assert!(leftovers(&bucket).is_empty(), "{:?}", leftovers(&bucket));
}

#[test]
fn bad_labels_are_reported_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, labels) = stage_folder(
        tmp.path(),
        &[
            ("train", "a.png", png([1, 1, 1]), "0"),
            ("train", "b.png", png([2, 2, 2]), "2"),
        ],
    );
    let bucket = LocalBucket::new(tmp.path().join("bucket"));
    let err = stage::stage(&bucket, &Source::Images { dir, labels }, &NoProgress).unwrap_err();
    assert!(matches!(err, StageError::Labels { .. }), "{err:?}");
    assert!(err.to_string().contains("line 3"), "{err}");
    assert_eq!(read_manifest(&bucket).unwrap(), None);
}

#[test]
fn corrupt_and_incomplete_archives_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = LocalBucket::new(tmp.path().join("bucket"));

    let truncated = tmp.path().join("truncated.tar.gz");
    cifar_archive(&truncated, Some(&train_rows()), Some(&test_rows()));
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = stage::stage(&bucket, &Source::Cifar(truncated.clone()), &NoProgress).unwrap_err();
    assert!(
        matches!(&err, StageError::CorruptArchive { path, .. } if *path == truncated),
        "{err:?}"
    );

    let not_gzip = tmp.path().join("notes.tar.gz");
    std::fs::write(&not_gzip, b"hello, this is not an archive").unwrap();
    let err = stage::stage(&bucket, &Source::Cifar(not_gzip), &NoProgress).unwrap_err();
    assert_eq!(err.name(), "CorruptArchive", "{err:?}");

    let no_test = tmp.path().join("no-test.tar.gz");
    cifar_archive(&no_test, Some(&train_rows()), None);
    let err = stage::stage(&bucket, &Source::Cifar(no_test), &NoProgress).unwrap_err();
    assert!(
        matches!(&err, StageError::MissingArchiveMember { member, .. } if member == "cifar-100-python/test"),
        "{err:?}"
    );

    // A test split without motorcycles cannot be used for evaluation.
    let one_class = tmp.path().join("one-class.tar.gz");
    cifar_archive(&one_class, Some(&train_rows()), Some(&[row("b.png", 8, 1)]));
    let err = stage::stage(&bucket, &Source::Cifar(one_class), &NoProgress).unwrap_err();
    assert_eq!(err.name(), "NotEnoughImages", "{err:?}");

    assert_eq!(read_manifest(&bucket).unwrap(), None);
    assert!(leftovers(&bucket).is_empty());
}

#[test]
fn download_is_checked_cached_and_discarded_when_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("source.tar.gz");
    cifar_archive(&archive, Some(&train_rows()), Some(&test_rows()));
    let body = std::fs::read(&archive).unwrap();
    let cache = tmp.path().join("cache");

    // Wrong checksum: refused, nothing left in the cache.
    let (url, server) = serve(body.clone(), 1);
    let wrong = DownloadSource {
        url: url.clone(),
        md5: "0".repeat(32),
    };
    let err = stage::fetch_archive(&wrong, &cache, &NoProgress).unwrap_err();
    assert!(matches!(err, DownloadError::Checksum { .. }), "{err:?}");
    assert!(!err.is_offline());
    server.join().unwrap();
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);

    // Right checksum: downloaded once, then served from the cache (the server is gone).
    let (url, server) = serve(body.clone(), 1);
    let source = DownloadSource {
        url,
        md5: md5_hex(&body),
    };
    let bucket = LocalBucket::new(tmp.path().join("bucket"));
    let download = Source::Download {
        source: source.clone(),
        cache_dir: cache.clone(),
    };
    let manifest = stage::stage(&bucket, &download, &NoProgress).unwrap();
    server.join().unwrap();
    assert_eq!(manifest.train.total(), 3);
    assert_eq!(
        std::fs::read(cache.join("cifar-100-python.tar.gz")).unwrap(),
        body
    );
    let again = stage::fetch_archive(&source, &cache, &NoProgress).unwrap();
    assert_eq!(again, cache.join("cifar-100-python.tar.gz"));
}

#[test]
fn offline_without_data_stages_a_loudly_labelled_synthetic_set() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = LocalBucket::new(tmp.path().join("bucket"));
    // Port 9 on loopback: nothing listens there, the connection is refused.
    let unreachable = DownloadSource {
        url: "http://127.0.0.1:9/cifar-100-python.tar.gz".into(),
        md5: "0".repeat(32),
    };
    let manifest = stage::stage_with_fallback(
        &bucket,
        &unreachable,
        &tmp.path().join("cache"),
        &NoProgress,
    )
    .unwrap();
    assert!(manifest.synthetic);
    let reason = manifest.synthetic_reason.clone().unwrap();
    assert!(reason.contains("127.0.0.1:9"), "{reason}");
    assert_eq!((manifest.train.total(), manifest.test.total()), (1000, 200));
    let marker = std::fs::read_to_string(bucket.root().join(stage::SYNTHETIC_MARKER)).unwrap();
    assert!(marker.contains("SYNTHETIC"));
    // Restaging real data removes the marker.
    let archive = tmp.path().join("a.tar.gz");
    cifar_archive(&archive, Some(&train_rows()), Some(&test_rows()));
    stage::stage(&bucket, &Source::Cifar(archive), &NoProgress).unwrap();
    assert!(!bucket.root().join(stage::SYNTHETIC_MARKER).exists());
}
