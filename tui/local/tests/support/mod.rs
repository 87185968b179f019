//! Test data the tests make themselves: CIFAR-format archives, PNG folders, a tiny HTTP
//! server on 127.0.0.1, and fixed-answer models.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;

use scones_local::endpoint::{PredictError, Predictor};

pub const ROW: usize = 3072;

/// One CIFAR row: name, fine label, planar pixels (R plane, G plane, B plane).
pub struct Row {
    pub name: String,
    pub fine_label: u8,
    pub pixels: Vec<u8>,
}

/// A row whose pixels are a recognisable function of `seed`.
pub fn row(name: &str, fine_label: u8, seed: u8) -> Row {
    let pixels = (0..ROW)
        .map(|i| (i as u32 * 7 + u32::from(seed) * 31) as u8)
        .collect();
    Row {
        name: name.to_owned(),
        fine_label,
        pixels,
    }
}

/// A pickle as Python 2's cPickle (protocol 2) writes CIFAR-100's batches: a dict with
/// byte-string keys, `filenames`, `fine_labels`, `coarse_labels`, `batch_label`, and `data` a
/// numpy uint8 array of shape (N, 3072) pickled through `numpy.core.multiarray._reconstruct`.
pub fn cifar_pickle(rows: &[Row]) -> Vec<u8> {
    let mut p = vec![0x80, 2]; // PROTO 2
    p.extend(b"}("); // EMPTY_DICT, MARK
    short_str(&mut p, b"batch_label");
    short_str(&mut p, b"training batch 1 of 1");
    short_str(&mut p, b"filenames");
    p.extend(b"]("); // EMPTY_LIST, MARK
    for r in rows {
        short_str(&mut p, r.name.as_bytes());
    }
    p.push(b'e'); // APPENDS
    short_str(&mut p, b"fine_labels");
    p.extend(b"](");
    for r in rows {
        p.extend([b'K', r.fine_label]); // BININT1
    }
    p.push(b'e');
    short_str(&mut p, b"coarse_labels");
    p.extend(b"](");
    for _ in rows {
        p.extend([b'K', 18]);
    }
    p.push(b'e');
    short_str(&mut p, b"data");
    // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')
    p.extend(b"cnumpy.core.multiarray\n_reconstruct\n");
    p.extend(b"cnumpy\nndarray\n");
    p.extend([b'K', 0, 0x85]); // (0,)
    short_str(&mut p, b"b");
    p.extend([0x87, b'R']); // TUPLE3, REDUCE
    // BUILD state: (1, (N, 3072), dtype('u1'), False, raw)
    p.push(b'(');
    p.extend([b'K', 1]);
    p.push(b'J');
    p.extend((rows.len() as i32).to_le_bytes());
    p.push(b'M');
    p.extend((ROW as u16).to_le_bytes());
    p.push(0x86); // TUPLE2
    p.extend(b"cnumpy\ndtype\n");
    short_str(&mut p, b"u1");
    p.extend([b'K', 0, b'K', 1, 0x87, b'R']);
    p.push(b'(');
    p.extend([b'K', 3]);
    short_str(&mut p, b"|");
    p.extend(b"NNN");
    p.push(b'J');
    p.extend((-1i32).to_le_bytes());
    p.push(b'J');
    p.extend((-1i32).to_le_bytes());
    p.extend([b'K', 0]);
    p.extend(b"tb"); // TUPLE, BUILD (dtype state)
    p.push(0x89); // NEWFALSE
    let raw: Vec<u8> = rows.iter().flat_map(|r| r.pixels.iter().copied()).collect();
    p.push(b'T'); // BINSTRING
    p.extend((raw.len() as u32).to_le_bytes());
    p.extend(&raw);
    p.extend(b"tb"); // TUPLE, BUILD (array state)
    p.extend(b"u."); // SETITEMS, STOP
    p
}

fn short_str(p: &mut Vec<u8>, s: &[u8]) {
    p.push(b'U');
    p.push(s.len() as u8);
    p.extend(s);
}

/// Writes `cifar-100-python.tar.gz` with `meta`, `train`, `test` (any of them may be
/// omitted by passing `None`).
pub fn cifar_archive(path: &Path, train: Option<&[Row]>, test: Option<&[Row]>) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes).unwrap();
    };
    add("cifar-100-python/file.txt~", b"");
    add("cifar-100-python/meta", &cifar_pickle(&[]));
    if let Some(rows) = train {
        add("cifar-100-python/train", &cifar_pickle(rows));
    }
    if let Some(rows) = test {
        add("cifar-100-python/test", &cifar_pickle(rows));
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// A 32x32 RGB PNG filled with one colour.
pub fn png(rgb: [u8; 3]) -> Vec<u8> {
    let pixels: Vec<u8> = (0..32 * 32).flat_map(|_| rgb).collect();
    let mut out = Vec::new();
    image::write_buffer_with_format(
        &mut std::io::Cursor::new(&mut out),
        &pixels,
        32,
        32,
        image::ExtendedColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .unwrap();
    out
}

/// Serves `body` to the next `connections` HTTP requests on 127.0.0.1, then stops.
pub fn serve(body: Vec<u8>, connections: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cifar-100-python.tar.gz",
        listener.local_addr().unwrap()
    );
    let handle = std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request: Vec<u8> = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, handle)
}

/// A model that always answers the same probabilities.
pub struct FixedPredictor(pub [f32; 2]);

impl Predictor for FixedPredictor {
    fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], PredictError> {
        if !png.starts_with(b"\x89PNG") {
            return Err(PredictError::BadInput("not a PNG".into()));
        }
        Ok(self.0)
    }
}

/// A model whose answer depends on the image: p_bicycle is the mean red level.
pub struct RedPredictor;

impl Predictor for RedPredictor {
    fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], PredictError> {
        let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .map_err(|e| PredictError::BadInput(e.to_string()))?
            .into_rgb8();
        let n = (img.width() * img.height()).max(1) as f32;
        let red: f32 = img.pixels().map(|p| f32::from(p.0[0])).sum::<f32>() / n / 255.0;
        Ok([red, 1.0 - red])
    }
}

/// Runs `keys` on `stack` through the port's runner (as `scones run --local` does), calling
/// `on_result` with each result, and waits until everything is in the store.
pub async fn run_keys(
    home: &scones_local::Home,
    stack: &scones_local::LocalStack,
    keys: scones_workflow::run::Keys,
    concurrency: usize,
    mut on_result: impl FnMut(&scones_workflow::run::ExecutionResult),
) -> scones_workflow::run::RunReport {
    let backend = std::sync::Arc::new(
        scones_local::LocalBackend::with_stack(
            home,
            stack.clone(),
            scones_workflow::Threshold::DEFAULT,
        )
        .unwrap(),
    );
    let report = scones_workflow::run::run(
        backend,
        keys,
        concurrency,
        |r| {
            on_result(r.unwrap());
            scones_workflow::run::Next::Continue
        },
        std::future::pending(),
    )
    .await
    .unwrap();
    stack.flush().await.unwrap();
    report
}

/// A model that needs no training: the lighter the image than `middle`, the surer it is of a
/// bicycle (the synthetic bicycles are light, the motorcycles dark), so its outputs move with
/// the inputs the way a real model's do.
pub struct BrightnessModel {
    pub middle: f64,
}

impl BrightnessModel {
    pub fn scores(&self, image: &scones_model::RgbImage) -> [f32; 2] {
        let brightness = scones_local::drift::features_of(image)
            .unwrap()
            .get(scones_workflow::drift::Feature::Brightness);
        let p = 1.0 / (1.0 + (-(brightness - self.middle) * 40.0).exp());
        [p as f32, 1.0 - p as f32]
    }
}

impl scones_local::endpoint::Predictor for BrightnessModel {
    fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], scones_local::endpoint::PredictError> {
        let image = scones_model::RgbImage::decode_png(png)
            .map_err(|e| scones_local::endpoint::PredictError::BadInput(e.to_string()))?;
        Ok(self.scores(&image))
    }
}
