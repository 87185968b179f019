//! The executions list as drawn: status colours, name, s3 key, whether the prediction
//! matched the image's label (TRUTH), start, duration and error; only the visible rows.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use crate::dashboard::components::{
    fmt_duration, fmt_start, truncate, truncate_left, unavailable_hint, visible_offset,
};
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::list::Truth;
use crate::dashboard::shared::Shared;
use crate::dashboard::shell::EXECUTIONS;
use scones_workflow::cause::cause_message;

/// Column widths of the list for a panel `width` columns wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// Execution name.
    pub name: u16,
    /// s3 key.
    pub key: u16,
    /// Start time (8: time only; 14: date and time).
    pub start: u16,
    /// The model version that classified it (0: not shown, below 150 columns).
    pub model: u16,
}

/// The key gets most of the room (it says which image), then the name; the error takes
/// the rest. At 80 columns a CIFAR test key (`test/motorcycle_s_001234.png`) fits whole.
pub fn columns(width: u16) -> Columns {
    let inner = width.saturating_sub(2);
    let start = if inner >= 120 { 14 } else { 8 };
    // status 9, truth 5, duration 6, six spaces between seven columns
    let room = inner.saturating_sub(9 + TRUTH_WIDTH + 6 + 6 + start);
    Columns {
        key: (room * 64 / 100).clamp(12, 32),
        name: (room * 18 / 100).clamp(6, 36),
        start,
        // A local version name (`20261206T222927.063Z-9bdcf10d`) whole, when there is room.
        model: if inner >= 148 { 29 } else { 0 },
    }
}

/// Width of the TRUTH column.
const TRUTH_WIDTH: u16 = 5;

/// Rows of table body that fit in a bordered table `area` with one header row.
pub fn body_height(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

/// Draws the list.
pub fn draw(frame: &mut Frame, area: Rect, shared: &Shared, focused: bool) {
    let state = &shared.executions;
    let theme = &shared.theme;
    let height = body_height(area);
    let offset = visible_offset(state.offset, state.selected, height, state.view_len());
    let title = {
        let mut spans = vec![Span::styled(" Executions ", theme.title)];
        let count = if state.view_len() == state.total() {
            format!("{} ", state.total())
        } else {
            format!("{}/{} ", state.view_len(), state.total())
        };
        spans.push(Span::styled(count, theme.text));
        if state.running() > 0 {
            spans.push(Span::styled(
                format!("{} running ", state.running()),
                theme.busy,
            ));
        }
        spans.push(Span::styled(
            format!("sort:{} ", state.sort.label()),
            theme.dim,
        ));
        if !state.filter.is_empty() {
            spans.push(Span::styled(
                format!("filter:{} ", state.filter),
                theme.warn,
            ));
        }
        Line::from(spans)
    };
    let cols = columns(area.width);
    let mut widths = vec![
        Constraint::Length(9),
        Constraint::Length(cols.name),
        Constraint::Length(cols.key),
        Constraint::Length(TRUTH_WIDTH),
        Constraint::Length(cols.start),
        Constraint::Length(6),
    ];
    if cols.model > 0 {
        widths.push(Constraint::Length(cols.model));
    }
    widths.push(Constraint::Fill(1));
    let (name_w, key_w) = (usize::from(cols.name), usize::from(cols.key));
    let model_w = usize::from(cols.model);
    let error_w = usize::from(
        area.width
            .saturating_sub(2 + 9 + TRUTH_WIDTH + 6 + 6 + u16::from(cols.model > 0))
            .saturating_sub(cols.name + cols.key + cols.start + cols.model),
    );
    let wide = cols.start > 8;
    let rows = (offset..(offset + height).min(state.view_len())).filter_map(|pos| {
        let e = state.at(pos)?;
        let style = if pos == state.selected {
            theme.selected
        } else {
            theme.text
        };
        let error = match (&e.error, &e.cause) {
            (Some(err), Some(cause)) if wide => format!("{err}: {}", cause_message(cause)),
            (Some(err), _) => err.clone(),
            _ => String::new(),
        };
        let mut cells = vec![
            Cell::from(Span::styled(e.status.as_str(), theme.status(e.status))),
            Cell::from(display_name(&e.name, name_w)),
            Cell::from(truncate(e.s3_key.as_deref().unwrap_or("-"), key_w)),
            {
                let truth = Truth::of(e);
                Cell::from(Span::styled(truth.text(), truth.style(theme)))
            },
            Cell::from(fmt_start(e.start, shared.now, shared.tz, wide)),
            Cell::from(fmt_duration(e.duration(shared.now))),
        ];
        if model_w > 0 {
            cells.push(Cell::from(Span::styled(
                truncate_left(e.model.as_deref().unwrap_or("-"), model_w),
                theme.dim,
            )));
        }
        cells.push(Cell::from(Span::styled(
            truncate(&error, error_w),
            theme.bad,
        )));
        Some(Row::new(cells).style(style))
    });
    let mut titles = vec!["STATUS", "NAME", "S3 KEY", "TRUTH", "START", "DUR"];
    if model_w > 0 {
        titles.push("MODEL");
    }
    titles.push("ERROR");
    let header = Row::new(titles).style(theme.dim);
    let empty = state.total() == 0;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        })
        .title(title);
    if empty && let Some(error) = shared.unavailable(EXECUTIONS) {
        let text = vec![
            Line::styled(format!("Cannot list executions: {error}"), theme.bad),
            Line::raw(""),
            Line::styled(unavailable_hint(shared), theme.dim),
        ];
        frame.render_widget(
            ratatui::widgets::Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    if empty {
        let hint = if !shared.loaded(EXECUTIONS) {
            // The first listing can take seconds on AWS (16 s on a hung service): "no
            // executions" would be a claim nobody has checked yet.
            "Loading executions…".to_owned()
        } else if shared.readonly {
            format!(
                "No executions yet. This dashboard is read-only: start some from another terminal, e.g. `scones run --{} --random 10`.",
                if shared.is_aws() { "aws" } else { "local" }
            )
        } else {
            format!(
                "No executions yet. Press {} to start a test execution, {} for a burst.",
                shared.config.keymap.hint(KeyAction::Test),
                shared.config.keymap.hint(KeyAction::Burst),
            )
        };
        frame.render_widget(
            ratatui::widgets::Paragraph::new(hint)
                .style(theme.dim)
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
}

/// The part of an execution name that tells it apart, in `width` columns. The names scones
/// gives on AWS (`<prefix>-<epoch ms>-<8 hex>`, e.g. `scones-run-1796352448423-8d14c180`) all
/// start alike, so their random suffix is what is shown; other names (the local stack's
/// UUIDs) are cut at the end as usual.
pub fn display_name(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        return name.to_owned();
    }
    let mut parts = name.rsplitn(3, '-');
    if let (Some(hex), Some(ms), Some(_)) = (parts.next(), parts.next(), parts.next())
        && hex.len() == 8
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && ms.len() >= 10
        && ms.chars().all(|c| c.is_ascii_digit())
        && width >= 2
    {
        let keep = hex.len().min(width - 1);
        return format!("…{}", &hex[hex.len() - keep..]);
    }
    truncate(name, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cifar_test_key_fits_whole_at_80_columns() {
        assert!(usize::from(columns(80).key) >= "test/motorcycle_s_001234.png".len());
        // The model version shows whole where there is room, and not at all where not.
        assert_eq!(columns(80).model, 0);
        assert_eq!(
            usize::from(columns(200).model),
            "20261206T222927.063Z-9bdcf10d".len()
        );
    }

    #[test]
    fn scones_names_show_their_distinguishing_suffix() {
        let a = display_name("scones-run-1796352448423-8d14c180", 9);
        let b = display_name("scones-run-1796352448424-0a1b2c3d", 9);
        assert_eq!((a.as_str(), b.as_str()), ("…8d14c180", "…0a1b2c3d"));
        assert_eq!(
            display_name("scones-run-1796352448423-8d14c180", 7),
            "…14c180"
        );
        // Local UUIDs differ at the start: cut at the end as before.
        assert_eq!(
            display_name("cfcdba04-6b3e-4c1d-9a3b-1e2f3a4b5c6d", 11),
            truncate("cfcdba04-6b3e-4c1d-9a3b-1e2f3a4b5c6d", 11)
        );
        assert_eq!(display_name("exec-1", 9), "exec-1");
    }
}
