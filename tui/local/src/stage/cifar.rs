//! Reading the CIFAR-100 python archive: a gzip'd tar holding `cifar-100-python/{meta,train,test}`,
//! each a pickled dict with `filenames`, `fine_labels` and `data` (a numpy `uint8` array of
//! shape `(N, 3072)`: the red plane, then green, then blue, each 32x32 row-major).

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde_pickle::{DeOptions, HashableValue, Value};

use super::{Split, StageError, StagedImage};
use crate::progress::Progress;

/// CIFAR-100 fine label of "bicycle"; staged as label 0.
pub const FINE_LABEL_BICYCLE: i64 = 8;
/// CIFAR-100 fine label of "motorcycle"; staged as label 1.
pub const FINE_LABEL_MOTORCYCLE: i64 = 48;

const SIDE: u32 = 32;
const PLANE: usize = (SIDE * SIDE) as usize;
const ROW_BYTES: usize = 3 * PLANE;

/// Reads the bicycle and motorcycle images of both splits.
pub(crate) fn read_archive(
    path: &Path,
    progress: &dyn Progress,
) -> Result<Vec<StagedImage>, StageError> {
    let corrupt = |reason: String| StageError::CorruptArchive {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| StageError::io(path, e))?;
    let size = file.metadata().map(|m| m.len()).ok();
    progress.begin("reading archive", size);
    let counted = CountingReader {
        inner: file,
        progress,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(counted));
    let mut images = Vec::new();
    let mut seen = HashSet::new();
    let entries = archive
        .entries()
        .map_err(|e| corrupt(format!("not a gzip'd tar: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| corrupt(format!("not a gzip'd tar: {e}")))?;
        let member = entry
            .path()
            .map_err(|e| corrupt(format!("member with an unreadable name: {e}")))?
            .to_string_lossy()
            .into_owned();
        let split = match member.rsplit('/').next() {
            Some("train") => Split::Train,
            Some("test") => Split::Test,
            _ => continue,
        };
        if !seen.insert(split) {
            return Err(corrupt(format!("member {member:?} appears twice")));
        }
        let pickle = serde_pickle::value_from_reader(
            entry,
            DeOptions::new()
                .keep_restore_state()
                .replace_unresolved_globals(),
        )
        .map_err(|e| corrupt(format!("member {member:?} is not a readable pickle: {e}")))?;
        let label = format!("{}:{member}", path.display());
        images.extend(
            images_of_batch(&pickle, split, &label)
                .map_err(|reason| corrupt(format!("member {member:?}: {reason}")))?,
        );
    }
    // Read the gzip stream to its end: its CRC and length trailer are what reveal a truncated
    // or damaged download when the tar members themselves happened to parse.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())
        .map_err(|e| corrupt(format!("damaged or truncated gzip stream: {e}")))?;
    progress.end();
    for split in [Split::Train, Split::Test] {
        if !seen.contains(&split) {
            return Err(StageError::MissingArchiveMember {
                path: path.to_path_buf(),
                member: format!("cifar-100-python/{}", split.as_str()),
            });
        }
    }
    Ok(images)
}

/// The bicycle/motorcycle images of one pickled batch.
fn images_of_batch(pickle: &Value, split: Split, label: &str) -> Result<Vec<StagedImage>, String> {
    let Value::Dict(dict) = pickle else {
        return Err("the pickle is not a dict".into());
    };
    let filenames = field(dict, "filenames")?;
    let fine_labels = field(dict, "fine_labels")?;
    let Value::List(filenames) = filenames else {
        return Err("`filenames` is not a list".into());
    };
    let Value::List(fine_labels) = fine_labels else {
        return Err("`fine_labels` is not a list".into());
    };
    let rows = filenames.len();
    if fine_labels.len() != rows {
        return Err(format!(
            "{rows} filenames but {} fine_labels",
            fine_labels.len()
        ));
    }
    let pixels = pixel_rows(field(dict, "data")?, rows)?;
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, (name, fine)) in filenames.iter().zip(fine_labels).enumerate() {
        let fine = match fine {
            Value::I64(v) => *v,
            other => return Err(format!("fine_labels[{i}] is {other:?}, not an integer")),
        };
        let staged_label = match fine {
            FINE_LABEL_BICYCLE => 0,
            FINE_LABEL_MOTORCYCLE => 1,
            _ => continue,
        };
        let name = match name {
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Value::String(s) => s.clone(),
            other => return Err(format!("filenames[{i}] is {other:?}, not a string")),
        };
        super::check_file_name(label, &name).map_err(|e| e.to_string())?;
        if !names.insert(name.clone()) {
            return Err(format!("file name {name:?} appears twice"));
        }
        let row = pixels
            .get(i * ROW_BYTES..(i + 1) * ROW_BYTES)
            .ok_or_else(|| format!("row {i} is missing from `data`"))?;
        out.push(StagedImage {
            split,
            png: encode_planar_png(row).map_err(|e| format!("{name}: {e}"))?,
            filename: name,
            label: staged_label,
        });
    }
    Ok(out)
}

fn field<'a>(dict: &'a BTreeMap<HashableValue, Value>, key: &str) -> Result<&'a Value, String> {
    // Python 2 pickles have byte-string keys, Python 3 ones unicode keys.
    dict.get(&HashableValue::Bytes(key.as_bytes().to_vec()))
        .or_else(|| dict.get(&HashableValue::String(key.to_owned())))
        .ok_or_else(|| format!("the dict has no `{key}`"))
}

/// The raw bytes of the `data` array, checked to hold `rows` rows of 3072 bytes.
///
/// A pickled numpy array unpickles (with restore state kept) to its `__setstate__` tuple
/// `(version, shape, dtype, is_fortran, raw_bytes)`; a plain bytes value is accepted too.
fn pixel_rows(data: &Value, rows: usize) -> Result<&[u8], String> {
    let expected = rows * ROW_BYTES;
    let bytes = match data {
        Value::Bytes(b) => b.as_slice(),
        Value::Tuple(state) => {
            if let [_, Value::Tuple(shape), _, fortran, Value::Bytes(raw)] = state.as_slice() {
                if matches!(fortran, Value::Bool(true)) {
                    return Err("`data` is Fortran-ordered; expected a C-ordered array".into());
                }
                let dims: Vec<i64> = shape
                    .iter()
                    .map(|d| match d {
                        Value::I64(v) => *v,
                        _ => -1,
                    })
                    .collect();
                if dims != [rows as i64, ROW_BYTES as i64] {
                    return Err(format!(
                        "`data` has shape {dims:?}, expected [{rows}, {ROW_BYTES}]"
                    ));
                }
                raw.as_slice()
            } else {
                return Err("`data` is not a pickled numpy uint8 array".into());
            }
        }
        _ => return Err("`data` is not a pickled numpy uint8 array".into()),
    };
    if bytes.len() != expected {
        return Err(format!(
            "`data` holds {} bytes, expected {rows} rows x {ROW_BYTES} = {expected}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// CIFAR's planar row (R plane, G plane, B plane) as an RGB PNG.
fn encode_planar_png(row: &[u8]) -> Result<Vec<u8>, String> {
    let (r, rest) = row.split_at(PLANE);
    let (g, b) = rest.split_at(PLANE);
    let mut rgb = Vec::with_capacity(ROW_BYTES);
    for ((r, g), b) in r.iter().zip(g).zip(b) {
        rgb.extend_from_slice(&[*r, *g, *b]);
    }
    let mut png = Vec::new();
    image::write_buffer_with_format(
        &mut std::io::Cursor::new(&mut png),
        &rgb,
        SIDE,
        SIDE,
        image::ExtendedColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .map_err(|e| e.to_string())?;
    Ok(png)
}

/// Reports bytes read from the (compressed) archive as progress.
struct CountingReader<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
