//! Payload limits of the workflow: what a record may carry through Step Functions, and so the
//! largest image the serialize step downloads and any backend shows.

/// Step Functions' limit on a state's input/output (256 KiB, UTF-8 bytes). The record travels
/// through every state, so it must fit with room for the inference vector added later.
pub const MAX_RECORD_BYTES: usize = 262_144;

/// Bytes reserved for `inferences` (two f64 in JSON) and their key, added by ClassifyImage.
pub const INFERENCES_HEADROOM: usize = 128;

/// Largest object the serialize step downloads: base64 grows data by 4/3, so anything above
/// this cannot fit in [`MAX_RECORD_BYTES`] whatever the key is. Checked before the download.
pub const MAX_IMAGE_BYTES: usize = (MAX_RECORD_BYTES - INFERENCES_HEADROOM) / 4 * 3;
