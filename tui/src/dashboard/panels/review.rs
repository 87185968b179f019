//! Tab 8, review: the images waiting for a person (low-confidence failures, decisions the
//! guard held, the audit sample of accepted ones), one at a time with the image as large as
//! the terminal allows, the model's scores and why it was queued. One key per answer (`b`
//! bicycle, `m` motorcycle, `u` unsure), `z` takes the last one back, `j`/`k` skip.
//!
//! Keyboard-first and at the speed of a person's hands: a label is recorded in the
//! background while the next image, fetched ahead, is already on screen.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use scones_workflow::class::Class;
use scones_workflow::port::{BackendResult, Request, Response};
use scones_workflow::review::{NewLabel, ReviewItem, ReviewQueue, ReviewReason, Verdict};

use crate::dashboard::action::{Action, View};
use crate::dashboard::components::{draw_loading, fmt_start, image, truncate};
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, Handled, OnError, Panel, Scope};
use crate::dashboard::panels::executions;
use crate::dashboard::shared::Shared;

/// This tab.
pub const VIEW: View = View("review");

/// The feed's name.
pub const FEED: &str = "review_queue";

/// Items listed per call (the counts cover the whole queue).
pub const QUEUE_PAGE: usize = 50;

/// Images fetched ahead of the one on screen.
pub const PREFETCH: usize = 2;

/// How far back the labelling pace is measured.
const PACE_WINDOW: Duration = Duration::minutes(5);

/// The tab's state.
#[derive(Debug, Default)]
pub struct ReviewPanel {
    /// The items waiting, as last listed, without those labelled here since.
    pub items: Vec<ReviewItem>,
    /// The queue's counts as last listed.
    pub queue: Option<ReviewQueue>,
    /// The item on screen.
    pub selected: usize,
    /// Labels given here, oldest first (what undo takes back).
    done: Vec<(ReviewItem, Verdict)>,
    /// Keys labelled here whose record is not confirmed yet: a refresh listing them does
    /// not bring them back.
    in_flight: HashSet<String>,
    /// When each label of this session was given (the pace).
    given: VecDeque<DateTime<Utc>>,
}

impl ReviewPanel {
    /// The item on screen.
    pub fn current(&self) -> Option<&ReviewItem> {
        self.items.get(self.selected)
    }

    /// Labels given here.
    pub fn labelled_here(&self) -> usize {
        self.done.len()
    }

    /// Labels per minute over the last five minutes of this session.
    pub fn pace(&self, now: DateTime<Utc>) -> Option<f64> {
        let recent: Vec<&DateTime<Utc>> = self
            .given
            .iter()
            .filter(|t| now - **t <= PACE_WINDOW)
            .collect();
        let first = recent.first()?;
        let minutes = ((now - **first).num_milliseconds() as f64 / 60_000.0).max(1.0 / 60.0);
        Some(recent.len() as f64 / minutes)
    }

    fn accept(&mut self, queue: ReviewQueue) {
        let keep = self.current().map(|i| i.key.clone());
        let labelled: HashSet<&str> = self.done.iter().map(|(i, _)| i.key.as_str()).collect();
        self.items = queue
            .items
            .iter()
            .filter(|i| !self.in_flight.contains(&i.key) && !labelled.contains(i.key.as_str()))
            .cloned()
            .collect();
        self.queue = Some(queue);
        self.selected = keep
            .and_then(|k| self.items.iter().position(|i| i.key == k))
            .unwrap_or(0)
            .min(self.items.len().saturating_sub(1));
    }

    fn label(&mut self, verdict: Verdict, shared: &mut Shared) {
        if self.selected >= self.items.len() {
            shared.toast_info("nothing to label: the queue is empty");
            return;
        }
        let item = self.items.remove(self.selected);
        self.selected = self.selected.min(self.items.len().saturating_sub(1));
        self.in_flight.insert(item.key.clone());
        self.given.push_back(shared.now);
        while self.given.len() > 1000 {
            self.given.pop_front();
        }
        shared.mutate(Request::Label(Box::new(new_label(&item, verdict))));
        self.done.push((item, verdict));
    }

    fn undo(&mut self, shared: &mut Shared) {
        let Some((item, verdict)) = self.done.pop() else {
            shared.toast_info("nothing to undo");
            return;
        };
        self.in_flight.insert(item.key.clone());
        shared.mutate(Request::Label(Box::new(new_label(
            &item,
            Verdict::Withdrawn,
        ))));
        shared.toast_info(format!("took back {verdict} for {}", item.key));
        self.items.insert(0, item);
        self.selected = 0;
    }

    fn move_by(&mut self, delta: i64) {
        let last = self.items.len().saturating_sub(1) as i64;
        self.selected = (self.selected as i64 + delta).clamp(0, last.max(0)) as usize;
    }
}

/// The label of `item` as `verdict`, with what the queue knew of it.
fn new_label(item: &ReviewItem, verdict: Verdict) -> NewLabel {
    NewLabel {
        key: item.key.clone(),
        label: verdict,
        reason: item.reason,
        model: item.model.clone(),
        scores: item.scores,
        execution: item.execution.clone(),
    }
}

/// Why an item is queued, in words.
pub fn reason_text(reason: ReviewReason) -> &'static str {
    match reason {
        ReviewReason::LowConfidence => "refused: confidence below the threshold",
        ReviewReason::DriftHold => "held by the guard: drift ALERT",
        ReviewReason::Audit => "accepted, drawn for audit",
        ReviewReason::Import => "labelled from outside the queue",
    }
}

/// Rows of the image in a body `area`.
fn image_rows(area: Rect, shared: &Shared) -> u16 {
    match shared.picker {
        // Inside the borders, with the facts beside it; as large as the height allows.
        Some(_) if area.width >= 60 && area.height >= 10 => {
            let by_height = area.height.saturating_sub(4);
            let by_width = area.width.saturating_sub(44) / 2;
            by_height.min(by_width).max(4)
        }
        _ => 0,
    }
}

impl Panel for ReviewPanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Review"
    }

    fn handle(&mut self, action: &Action, shared: &mut Shared) -> Handled {
        match action {
            Action::Label(verdict) => self.label(*verdict, shared),
            Action::UndoLabel => self.undo(shared),
            Action::Move(d) => self.move_by(i64::from(*d)),
            Action::First => self.move_by(i64::MIN / 2),
            Action::Last => self.move_by(i64::MAX / 2),
            Action::PageUp => self.move_by(-10),
            Action::PageDown => self.move_by(10),
            Action::Open => match self.current().and_then(|i| i.execution.clone()) {
                Some(id) => executions::open_execution(shared, &id),
                None => shared.toast_info("this image is not linked to an execution"),
            },
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(frame, area, shared, self);
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        vec![
            (KeyAction::LabelBicycle, "bicycle"),
            (KeyAction::LabelMotorcycle, "motorcycle"),
            (KeyAction::LabelUnsure, "unsure"),
            (KeyAction::UndoLabel, "undo"),
        ]
    }

    fn copy(&self, _shared: &Shared) -> Option<String> {
        serde_json::to_string_pretty(self.current()?).ok()
    }

    fn images(&self, area: Rect, shared: &Shared) -> Vec<String> {
        if image_rows(area, shared) == 0 {
            return Vec::new();
        }
        self.items
            .iter()
            .skip(self.selected)
            .take(1 + PREFETCH)
            .map(|i| i.key.clone())
            .collect()
    }

    fn mutation_done(
        &mut self,
        request: &Request,
        result: &BackendResult<Response>,
        shared: &mut Shared,
    ) -> Handled {
        let Request::Label(label) = request else {
            return Handled::No;
        };
        self.in_flight.remove(&label.key);
        if let Err(e) = result {
            // Not recorded: the image comes back, so nothing is lost.
            shared.toast_error(format!("the label of {} was not recorded: {e}", label.key));
            if let Some(i) = self
                .done
                .iter()
                .rposition(|(item, _)| item.key == label.key)
            {
                let (item, _) = self.done.remove(i);
                if !self.items.iter().any(|it| it.key == item.key) {
                    self.items.insert(0, item);
                    self.selected = 0;
                }
            }
        }
        shared.refresh(FEED);
        Handled::Yes
    }
}

impl FeedOwner for ReviewPanel {
    const FEEDS: &'static [Feed<ReviewPanel>] = &[Feed {
        name: FEED,
        interval: |_, base| base.max(std::time::Duration::from_secs(1)),
        scope: Scope::Global,
        wanted: |_, _, visible| visible,
        request: |_, _| Some(Request::ReviewQueue { limit: QUEUE_PAGE }),
        accept: |panel, response, _| {
            if let Response::ReviewQueue(queue) = response {
                panel.accept(queue);
            }
        },
        on_error: OnError::Toast,
    }];
}

fn draw(frame: &mut Frame, area: Rect, shared: &Shared, s: &ReviewPanel) {
    let theme = &shared.theme;
    let mut title = vec![Span::styled(" Review ", theme.title)];
    if let Some(q) = &s.queue {
        let waiting = q.waiting.saturating_sub(s.in_flight.len() as u64);
        title.push(Span::styled(
            format!(
                "{waiting} waiting · {} labelled here · {} answered in all",
                s.labelled_here(),
                q.answered
            ),
            theme.dim,
        ));
        if let Some(pace) = s.pace(shared.now) {
            title.push(Span::styled(format!(" · {pace:.0}/min"), theme.dim));
        }
        title.push(Span::raw(" "));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if s.queue.is_none() {
        draw_loading(frame, inner, shared, FEED);
        return;
    }
    let Some(item) = s.current() else {
        frame.render_widget(
            Paragraph::new(
                "Nothing waiting for review. Low-confidence failures, decisions the guard holds \
                 and a random audit sample of accepted ones land here.",
            )
            .style(theme.dim)
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    let rows = image_rows(area, shared);
    let image_w = if rows > 0 {
        image::square_cells(rows).width + 2
    } else {
        0
    };
    let [image_area, facts] =
        Layout::horizontal([Constraint::Length(image_w), Constraint::Min(0)]).areas(inner);
    if rows > 0 {
        let [image_area, _] =
            Layout::vertical([Constraint::Length(rows + 2), Constraint::Min(0)]).areas(image_area);
        image::draw(frame, image_area, shared, Some(&item.key), "image");
    }
    let [facts_area, next_area] =
        Layout::vertical([Constraint::Length(9), Constraint::Min(0)]).areas(facts);
    let km = &shared.config.keymap;
    let predicted = item.scores.map(Class::predicted);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" key   ", theme.dim),
            Span::styled(truncate(&item.key, 60), theme.text),
        ]),
        Line::from(vec![
            Span::styled(" why   ", theme.dim),
            Span::styled(
                reason_text(item.reason),
                match item.reason {
                    ReviewReason::DriftHold => theme.bad,
                    ReviewReason::LowConfidence => theme.warn,
                    _ => theme.text,
                },
            ),
        ]),
    ];
    lines.push(Line::from(match (item.scores, predicted) {
        (Some([b, m]), Some(class)) => vec![
            Span::styled(" model ", theme.dim),
            Span::styled(format!("{class}"), theme.title),
            Span::styled(
                format!("  p_bicycle {b:.4} · p_motorcycle {m:.4}"),
                theme.text,
            ),
        ],
        _ => vec![Span::styled(" model not classified", theme.dim)],
    }));
    lines.push(Line::from(vec![
        Span::styled(" by    ", theme.dim),
        Span::styled(
            item.model.clone().unwrap_or_else(|| "-".to_owned()),
            theme.dim,
        ),
        Span::styled(
            format!("  {}", fmt_start(item.time, shared.now, shared.tz, true)),
            theme.dim,
        ),
    ]));
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled(
            format!(" {} ", km.hint(KeyAction::LabelBicycle)),
            theme.tab_active,
        ),
        Span::styled(" bicycle   ", theme.text),
        Span::styled(
            format!(" {} ", km.hint(KeyAction::LabelMotorcycle)),
            theme.tab_active,
        ),
        Span::styled(" motorcycle   ", theme.text),
        Span::styled(
            format!(" {} ", km.hint(KeyAction::LabelUnsure)),
            theme.tab_active,
        ),
        Span::styled(" unsure", theme.text),
    ]));
    lines.push(Line::from(vec![Span::styled(
        format!(
            " {} undo · {}/{} skip · {} its execution",
            km.hint(KeyAction::UndoLabel),
            km.hint(KeyAction::Down),
            km.hint(KeyAction::Up),
            km.hint(KeyAction::Open)
        ),
        theme.dim,
    )]));
    frame.render_widget(Paragraph::new(lines), facts_area);
    let next = s
        .items
        .iter()
        .enumerate()
        .skip(s.selected + 1)
        .take(next_area.height.saturating_sub(1) as usize)
        .map(|(_, i)| {
            Row::new(vec![
                Cell::from(truncate(&i.key, 34)),
                Cell::from(Span::styled(i.reason.name(), theme.dim)),
                Cell::from(
                    i.scores
                        .map_or("-".to_owned(), |[b, m]| format!("{:.3}", b.max(m))),
                ),
            ])
        });
    frame.render_widget(
        Table::new(
            next,
            [
                Constraint::Fill(1),
                Constraint::Length(15),
                Constraint::Length(6),
            ],
        )
        .header(Row::new(["NEXT", "WHY", "CONF"]).style(theme.dim)),
        next_area,
    );
}
