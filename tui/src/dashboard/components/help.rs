//! The key help overlay: every action with the keys bound to it (defaults or the config
//! file's overrides), in two columns when the terminal is wide enough.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::dashboard::components::truncate;
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::shared::Shared;

/// Draws the overlay centred in `area`.
pub fn draw(frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let km = &shared.config.keymap;
    let entries: Vec<(String, &str)> = KeyAction::all()
        .map(|a| {
            let keys = km
                .keys_for(a)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            (
                if keys.is_empty() {
                    "-".to_owned()
                } else {
                    keys
                },
                a.description(),
            )
        })
        .collect();
    let columns: usize = if area.width >= 76 { 2 } else { 1 };
    let rows = entries.len().div_ceil(columns);
    let width = area.width.min(if columns == 2 { 110 } else { 60 });
    let height = (rows as u16 + 3).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    frame.render_widget(Clear, rect);
    let mut title = vec![Span::styled(" Keys ", theme.title)];
    if shared.readonly {
        title.push(Span::styled(
            format!("(read-only: {} are off) ", km.hints(&KeyAction::MUTATING)),
            theme.warn,
        ));
    }
    title.push(Span::styled(
        format!(
            "{} or {} closes ",
            km.hint(KeyAction::Help),
            km.hint(KeyAction::Back)
        ),
        theme.dim,
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focus)
        .title(Line::from(title));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let col_areas =
        Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (c, col_area) in col_areas.iter().enumerate() {
        let key_w = 12usize;
        let desc_w = (col_area.width as usize).saturating_sub(key_w + 2);
        let lines: Vec<Line> = entries
            .iter()
            .skip(c * rows)
            .take(rows)
            .map(|(keys, desc)| {
                Line::from(vec![
                    Span::styled(format!(" {:<key_w$}", truncate(keys, key_w)), theme.title),
                    Span::styled(truncate(desc, desc_w), theme.text),
                ])
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), *col_area);
    }
}
