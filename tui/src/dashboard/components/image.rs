//! The image an execution classified, on screen: what the model saw, next to what it said.
//!
//! Images arrive as PNG bytes through the image feed and are decoded once into a small
//! cache (an operator flips between a few executions, so a few dozen images cover it).
//! Drawing goes through `ratatui-image`: half-block cells by default (any terminal with
//! colours), sixel, kitty or iTerm2 graphics when the config names the terminal's protocol.
//! The protocol is not detected: `ratatui-image`'s terminal query reads stdin on a thread
//! that outlives its timeout, so on a terminal that does not answer (tmux does not) it
//! swallowed the first key press and switched raw mode off under the running dashboard.
//!
//! The encoded picture depends on the area it fills, so it is rebuilt only when that area
//! changes; that memo is the one piece of interior mutability in drawing, and it changes
//! nothing the user can see besides the pixels.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use image::{DynamicImage, ImageReader, Limits};
use ratatui::Frame;
use ratatui::layout::{Rect, Size};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::{Image, Resize};

use crate::dashboard::shared::Shared;

/// Images kept decoded.
pub const IMAGE_CACHE: usize = 64;
/// How long an image that could not be fetched is left alone before it is asked again.
pub const RETRY_AFTER: Duration = Duration::seconds(30);
/// The largest side decoded: a capture image is 32x32; anything far bigger is not one.
const MAX_SIDE: u32 = 4096;

/// How images are drawn (`images` in the dashboard config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// Half-block cells (two pixels per cell, foreground and background colour): any
    /// terminal with colours.
    Halfblocks,
    /// Sixel graphics (xterm -ti vt340, foot, mlterm, WezTerm...).
    Sixel,
    /// The kitty graphics protocol (kitty, Ghostty...).
    Kitty,
    /// iTerm2's inline images (iTerm2, WezTerm...).
    Iterm2,
    /// No images.
    Off,
}

impl ImageMode {
    /// Parses the config value.
    pub fn parse(text: &str) -> Option<ImageMode> {
        match text {
            "halfblocks" => Some(ImageMode::Halfblocks),
            "sixel" => Some(ImageMode::Sixel),
            "kitty" => Some(ImageMode::Kitty),
            "iterm2" => Some(ImageMode::Iterm2),
            "off" => Some(ImageMode::Off),
            _ => None,
        }
    }

    /// The encoder for `mode` (`None`: the config does not say), `None` for no images.
    /// Without a setting, half blocks, except under NO_COLOR (they are made of colours).
    pub fn picker(mode: Option<ImageMode>, no_color: bool) -> Option<Picker> {
        use ratatui_image::picker::ProtocolType;
        let protocol = match mode {
            None if no_color => return None,
            None | Some(ImageMode::Halfblocks) => ProtocolType::Halfblocks,
            Some(ImageMode::Sixel) => ProtocolType::Sixel,
            Some(ImageMode::Kitty) => ProtocolType::Kitty,
            Some(ImageMode::Iterm2) => ProtocolType::Iterm2,
            Some(ImageMode::Off) => return None,
        };
        let mut picker = Picker::halfblocks();
        picker.set_protocol_type(protocol);
        Some(picker)
    }
}

/// One cached image.
#[derive(Debug)]
pub enum Entry {
    /// Decoded, ready to draw.
    Ready(Picture),
    /// The fetch or the decoding failed at `at` (the message is shown in place).
    Failed {
        /// Why.
        message: String,
        /// When (it is asked again [`RETRY_AFTER`] later).
        at: DateTime<Utc>,
    },
}

/// A decoded image and its encoding for the last area it was drawn in.
pub struct Picture {
    image: Arc<DynamicImage>,
    encoded: RefCell<Option<(Rect, Protocol)>>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picture")
            .field("dimensions", &self.dimensions())
            .finish_non_exhaustive()
    }
}

impl Picture {
    /// Pixel width and height.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.image.width(), self.image.height())
    }
}

/// Decoded images by S3 key, oldest evicted first.
#[derive(Debug, Default)]
pub struct Images {
    entries: HashMap<String, Entry>,
    order: VecDeque<String>,
}

impl Images {
    /// The entry of `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// True when `key` should be fetched now: not cached, or failed longer than
    /// [`RETRY_AFTER`] ago.
    pub fn wants(&self, key: &str, now: DateTime<Utc>) -> bool {
        match self.entries.get(key) {
            None => true,
            Some(Entry::Ready(_)) => false,
            Some(Entry::Failed { at, .. }) => now - *at >= RETRY_AFTER,
        }
    }

    /// Decodes `bytes` as the image of `key` (a decoding error is cached as a failure).
    pub fn insert_png(&mut self, key: String, bytes: &[u8], now: DateTime<Utc>) {
        let entry = match decode(bytes) {
            Ok(image) => Entry::Ready(Picture {
                image: Arc::new(image),
                encoded: RefCell::new(None),
            }),
            Err(message) => Entry::Failed { message, at: now },
        };
        self.insert(key, entry);
    }

    /// Records that `key` could not be fetched.
    pub fn insert_failure(&mut self, key: String, message: String, now: DateTime<Utc>) {
        self.insert(key, Entry::Failed { message, at: now });
    }

    fn insert(&mut self, key: String, entry: Entry) {
        if self.entries.insert(key.clone(), entry).is_none() {
            self.order.push_back(key);
            while self.order.len() > IMAGE_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
        }
    }

    /// Images held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when none are held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Decodes PNG (or any format the `image` crate was built with) bytes, refusing images
/// larger than [`MAX_SIDE`] before allocating them.
fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("not an image: {e}"))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| format!("not a readable image: {e}"))
}

/// The cells an image of a square picture takes in a panel `height` rows high: a terminal
/// cell is about twice as tall as wide, so twice as many columns as rows.
pub fn square_cells(height: u16) -> Size {
    Size::new(height.saturating_mul(2), height)
}

/// Draws the image of `key` (or why there is none) in `area`, with a border titled `title`.
pub fn draw(frame: &mut Frame, area: Rect, shared: &Shared, key: Option<&str>, title: &str) {
    let theme = &shared.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(ratatui::text::Span::styled(format!(" {title} "), theme.dim));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let message = match (shared.picker.as_ref(), key) {
        (None, _) => "images off (config: images)".to_owned(),
        (_, None) => "no image key".to_owned(),
        (Some(picker), Some(key)) => match shared.images.get(key) {
            None => "loading…".to_owned(),
            Some(Entry::Failed { message, .. }) => message.clone(),
            Some(Entry::Ready(picture)) => {
                render(frame, inner, picker, picture);
                return;
            }
        },
    };
    frame.render_widget(
        Paragraph::new(message)
            .style(theme.dim)
            .wrap(Wrap { trim: true }),
        inner,
    );
}

/// Renders `picture` scaled to fit `area` (centred), re-encoding only when the area changed.
fn render(frame: &mut Frame, area: Rect, picker: &Picker, picture: &Picture) {
    let mut encoded = picture.encoded.borrow_mut();
    if encoded.as_ref().is_none_or(|(at, _)| *at != area) {
        let size = Size::new(area.width, area.height);
        let protocol = picker.new_protocol((*picture.image).clone(), size, Resize::Scale(None));
        *encoded = protocol.ok().map(|p| (area, p));
    }
    match encoded.as_ref() {
        Some((_, protocol)) => {
            let fitted = protocol.size();
            let x = area.x + area.width.saturating_sub(fitted.width) / 2;
            let y = area.y + area.height.saturating_sub(fitted.height) / 2;
            let target = Rect::new(
                x,
                y,
                fitted.width.min(area.width),
                fitted.height.min(area.height),
            );
            frame.render_widget(Image::new(protocol), target);
        }
        None => frame.render_widget(Paragraph::new("cannot draw this image here"), area),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 10, 10]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(image)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn the_config_picks_the_protocol_and_no_color_turns_the_default_off() {
        use ratatui_image::picker::ProtocolType;
        let protocol =
            |mode, no_color| ImageMode::picker(mode, no_color).map(|p| p.protocol_type());
        assert_eq!(protocol(None, false), Some(ProtocolType::Halfblocks));
        assert_eq!(protocol(None, true), None);
        assert_eq!(
            protocol(Some(ImageMode::Halfblocks), true),
            Some(ProtocolType::Halfblocks)
        );
        assert_eq!(
            protocol(Some(ImageMode::Sixel), false),
            Some(ProtocolType::Sixel)
        );
        assert_eq!(protocol(Some(ImageMode::Off), false), None);
        assert_eq!(ImageMode::parse("kitty"), Some(ImageMode::Kitty));
        assert_eq!(ImageMode::parse("auto"), None);
    }

    #[test]
    fn a_png_is_decoded_once_and_kept() {
        let now = Utc::now();
        let mut images = Images::default();
        assert!(images.wants("test/a.png", now));
        images.insert_png("test/a.png".into(), &png(32, 32), now);
        match images.get("test/a.png") {
            Some(Entry::Ready(p)) => assert_eq!(p.dimensions(), (32, 32)),
            other => panic!("{other:?}"),
        }
        assert!(!images.wants("test/a.png", now + Duration::hours(1)));
    }

    #[test]
    fn bytes_that_are_no_image_are_a_failure_retried_later() {
        let now = Utc::now();
        let mut images = Images::default();
        images.insert_png("k".into(), b"not a png", now);
        assert!(
            matches!(images.get("k"), Some(Entry::Failed { message, .. }) if message.contains("image"))
        );
        assert!(!images.wants("k", now + Duration::seconds(5)));
        assert!(images.wants("k", now + RETRY_AFTER));
    }

    #[test]
    fn a_huge_image_is_refused_before_it_is_allocated() {
        let err = decode(&png(MAX_SIDE + 1, 1)).unwrap_err();
        assert!(err.contains("not a readable image"), "{err}");
    }

    #[test]
    fn the_cache_keeps_the_newest() {
        let now = Utc::now();
        let mut images = Images::default();
        for i in 0..IMAGE_CACHE + 5 {
            images.insert_failure(format!("k{i}"), "x".into(), now);
        }
        assert_eq!(images.len(), IMAGE_CACHE);
        assert!(images.get("k0").is_none());
        assert!(images.get(&format!("k{}", IMAGE_CACHE + 4)).is_some());
    }
}
