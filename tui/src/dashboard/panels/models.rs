//! Tab 9, models: every version with what it was trained on and its measures (test split,
//! production validation set), which one serves, the promotions and rollbacks, and the
//! last gate's findings. `P` promotes the selected version through the gate, `R` rolls back.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use scones_workflow::models::{ModelsView, SetMeasures};
use scones_workflow::port::{BackendResult, Request, Response};

use crate::dashboard::action::{Action, View};
use crate::dashboard::components::{draw_loading, fmt_start, truncate};
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, Handled, OnError, Panel, Scope};
use crate::dashboard::shared::Shared;

/// This tab.
pub const VIEW: View = View("models");

/// The feed's name.
pub const FEED: &str = "models";

/// The tab's state.
#[derive(Debug, Default)]
pub struct ModelsPanel {
    /// The versions as last listed.
    pub view: Option<ModelsView>,
    /// The selected version (row).
    pub selected: usize,
    /// What the last promotion or rollback said (the gate's findings, or why it was refused).
    pub outcome: Vec<String>,
}

impl ModelsPanel {
    fn selected_version(&self) -> Option<&str> {
        self.view
            .as_ref()?
            .versions
            .get(self.selected)
            .map(|v| v.version.as_str())
    }
}

impl Panel for ModelsPanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Models"
    }

    fn handle(&mut self, action: &Action, shared: &mut Shared) -> Handled {
        let rows = self.view.as_ref().map_or(0, |v| v.versions.len());
        match action {
            Action::Move(d) => {
                let last = rows.saturating_sub(1) as i64;
                self.selected =
                    (self.selected as i64 + i64::from(*d)).clamp(0, last.max(0)) as usize;
            }
            Action::First => self.selected = 0,
            Action::Last => self.selected = rows.saturating_sub(1),
            Action::Promote => match self.selected_version() {
                Some(version) => {
                    let version = version.to_owned();
                    let what = format!("promote {version}");
                    if shared.confirmed(action, Some(&version), KeyAction::Promote, &what) {
                        self.outcome = vec![format!("promoting {version}: running the gate…")];
                        shared.mutate(Request::Promote {
                            version,
                            force: false,
                        });
                    }
                }
                None => shared.toast_info("no version selected"),
            },
            Action::Rollback => {
                if shared.confirmed(action, None, KeyAction::Rollback, "roll back") {
                    self.outcome = vec!["rolling back…".to_owned()];
                    shared.mutate(Request::Rollback);
                }
            }
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(frame, area, shared, self);
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        vec![
            (KeyAction::Promote, "promote"),
            (KeyAction::Rollback, "rollback"),
        ]
    }

    fn copy(&self, _shared: &Shared) -> Option<String> {
        serde_json::to_string_pretty(self.view.as_ref()?).ok()
    }

    fn mutation_done(
        &mut self,
        request: &Request,
        result: &BackendResult<Response>,
        shared: &mut Shared,
    ) -> Handled {
        if !matches!(request, Request::Promote { .. } | Request::Rollback) {
            return Handled::No;
        }
        match result {
            Ok(Response::Promoted(p)) => {
                shared.toast_info(format!("{} serves now", p.to));
                self.outcome = p.describe();
            }
            Ok(_) => {}
            Err(e) => {
                shared.toast_error("nothing changed: the Models tab says why");
                self.outcome = e.to_string().lines().map(str::to_owned).collect();
            }
        }
        shared.refresh(FEED);
        Handled::Yes
    }
}

impl FeedOwner for ModelsPanel {
    const FEEDS: &'static [Feed<ModelsPanel>] = &[Feed {
        name: FEED,
        interval: |_, base| (base * 3).max(std::time::Duration::from_secs(3)),
        scope: Scope::Global,
        wanted: |_, _, visible| visible,
        request: |_, _| Some(Request::Models),
        accept: |panel, response, _| {
            if let Response::Models(view) = response {
                let rows = view.versions.len();
                panel.view = Some(view);
                panel.selected = panel.selected.min(rows.saturating_sub(1));
            }
        },
        on_error: OnError::Toast,
    }];
}

/// Accuracy (and, where there is room, ECE and coverage at the threshold) on `images`.
fn measures(m: Option<&SetMeasures>, wide: bool) -> String {
    m.map_or("-".to_owned(), |m| {
        if wide {
            format!(
                "{:.3} ECE {:.3} cov {:.0}% ({})",
                m.accuracy,
                m.ece,
                m.coverage * 100.0,
                m.images
            )
        } else {
            format!("{:.3} ({})", m.accuracy, m.images)
        }
    })
}

fn draw(frame: &mut Frame, area: Rect, shared: &Shared, s: &ModelsPanel) {
    let theme = &shared.theme;
    let serving = s
        .view
        .as_ref()
        .and_then(|v| v.serving.clone())
        .unwrap_or_else(|| "nothing".to_owned());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::from(vec![
            Span::styled(" Models ", theme.title),
            Span::styled(format!("serving {} ", truncate(&serving, 40)), theme.dim),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(view) = &s.view else {
        draw_loading(frame, inner, shared, FEED);
        return;
    };
    let table_rows = view.versions.len() as u16 + 1;
    let [table_area, outcome_area, history_area] = Layout::vertical([
        Constraint::Length(table_rows.min(inner.height.saturating_sub(4))),
        Constraint::Length(s.outcome.len().min(6) as u16 + u16::from(!s.outcome.is_empty())),
        Constraint::Min(0),
    ])
    .areas(inner);
    let wide = area.width >= 120;
    let rows = view.versions.iter().enumerate().map(|(i, v)| {
        let style = if i == s.selected {
            theme.selected
        } else {
            theme.text
        };
        Row::new(vec![
            Cell::from(Span::styled(if v.serving { "●" } else { " " }, theme.ok)),
            Cell::from(truncate(&v.version, if wide { 32 } else { 24 })),
            Cell::from(format!("{}+{}", v.trained_on.base, v.trained_on.reviewed)),
            Cell::from(measures(v.test.as_ref(), wide)),
            Cell::from(measures(v.production.as_ref(), wide)),
        ])
        .style(style)
    });
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(if wide { 32 } else { 24 }),
                Constraint::Length(9),
                Constraint::Fill(1),
                Constraint::Fill(1),
            ],
        )
        .header(Row::new(["", "VERSION", "TRAINED", "TEST", "PRODUCTION"]).style(theme.dim)),
        table_area,
    );
    if !s.outcome.is_empty() {
        frame.render_widget(
            Paragraph::new(
                s.outcome
                    .iter()
                    .map(|l| Line::styled(l.clone(), theme.warn))
                    .collect::<Vec<_>>(),
            )
            .wrap(Wrap { trim: true }),
            outcome_area,
        );
    }
    let history: Vec<Line> = view
        .history
        .iter()
        .rev()
        .take(history_area.height as usize)
        .map(|p| {
            Line::from(vec![
                Span::styled(fmt_start(p.at, shared.now, shared.tz, true), theme.dim),
                Span::styled(format!(" {:<8} ", p.action), theme.title),
                Span::styled(
                    format!(
                        "{} → {}{}",
                        p.from
                            .as_deref()
                            .map_or("-".to_owned(), |f| truncate(f, 28)),
                        truncate(&p.to, 28),
                        if p.forced {
                            " (forced past the gate)"
                        } else {
                            ""
                        }
                    ),
                    theme.text,
                ),
                Span::styled(format!(" by {}", p.who), theme.dim),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(history), history_area);
}
