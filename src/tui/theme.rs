//! How states look: a colour theme and a monochrome one (`NO_COLOR`) that uses letters and
//! bold/reverse instead of colours, so nothing depends on telling colours apart.

use crate::tui::state::HostState;
use ratatui::style::{Color, Modifier, Style};

/// Colours or monochrome symbols for every state the dashboard draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// No colours: states differ by letter and modifier only.
    pub mono: bool,
}

/// A semantic tone, mapped to a style by the theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Normal text.
    Plain,
    /// Secondary text.
    Dim,
    /// Success.
    Good,
    /// In progress.
    Busy,
    /// Needs a look.
    Warn,
    /// Failure or danger.
    Bad,
    /// Titles and highlights.
    Accent,
}

impl Theme {
    /// The colour theme.
    pub fn color() -> Self {
        Self { mono: false }
    }

    /// The monochrome theme.
    pub fn mono() -> Self {
        Self { mono: true }
    }

    /// Monochrome when `no_color` holds a non-empty value, as <https://no-color.org> asks.
    pub fn from_no_color(no_color: Option<&str>) -> Self {
        Self {
            mono: no_color.is_some_and(|v| !v.is_empty()),
        }
    }

    /// The style of a tone.
    pub fn style(&self, tone: Tone) -> Style {
        let s = Style::default();
        match (self.mono, tone) {
            (_, Tone::Plain) => s,
            (true, Tone::Dim) => s.add_modifier(Modifier::DIM),
            (true, Tone::Bad) => s.add_modifier(Modifier::BOLD | Modifier::REVERSED),
            (true, Tone::Warn | Tone::Accent) => s.add_modifier(Modifier::BOLD),
            (true, _) => s,
            (false, Tone::Dim) => s.fg(Color::DarkGray),
            (false, Tone::Good) => s.fg(Color::Green),
            (false, Tone::Busy) => s.fg(Color::Cyan),
            (false, Tone::Warn) => s.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            (false, Tone::Bad) => s.fg(Color::Red).add_modifier(Modifier::BOLD),
            (false, Tone::Accent) => s.fg(Color::White).add_modifier(Modifier::BOLD),
        }
    }

    /// A badge (reversed block of text) in a tone, e.g. PRODUCTION.
    pub fn badge(&self, tone: Tone) -> Style {
        match (self.mono, tone) {
            (true, _) => Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            (false, Tone::Bad) => Style::default().fg(Color::White).bg(Color::Red),
            (false, Tone::Warn) => Style::default().fg(Color::Black).bg(Color::Yellow),
            (false, Tone::Good) => Style::default().fg(Color::Black).bg(Color::Green),
            (false, _) => Style::default().fg(Color::Black).bg(Color::Cyan),
        }
        .add_modifier(Modifier::BOLD)
    }

    /// The tone of a host state.
    pub fn tone(state: &HostState) -> Tone {
        match state {
            HostState::Pending | HostState::Disarmed => Tone::Dim,
            HostState::Running => Tone::Busy,
            HostState::Staged | HostState::Verified => Tone::Plain,
            HostState::Armed => Tone::Warn,
            HostState::Fired | HostState::Healthy => Tone::Good,
            HostState::Failed { .. } | HostState::Unreachable { .. } => Tone::Bad,
            HostState::Drifted { .. } => Tone::Bad,
        }
    }

    /// The one-character cell of a host state and its style.
    pub fn cell(&self, state: &HostState) -> (char, Style) {
        let style = self.style(Self::tone(state));
        if !self.mono && !state.is_problem() {
            let ch = if *state == HostState::Pending {
                '·'
            } else {
                '■'
            };
            return (ch, self.colour_of(state).map_or(style, |c| style.fg(c)));
        }
        (Self::letter(state), style)
    }

    /// Colours that split states sharing a tone.
    fn colour_of(&self, state: &HostState) -> Option<Color> {
        match state {
            HostState::Staged => Some(Color::Blue),
            HostState::Verified => Some(Color::LightBlue),
            HostState::Armed => Some(Color::Yellow),
            HostState::Fired => Some(Color::LightGreen),
            HostState::Healthy => Some(Color::Green),
            HostState::Disarmed => Some(Color::Magenta),
            _ => None,
        }
    }

    /// The letter that names a state in monochrome (and failure cells in colour).
    pub fn letter(state: &HostState) -> char {
        match state {
            HostState::Pending => '.',
            HostState::Running => 'r',
            HostState::Staged => 's',
            HostState::Verified => 'v',
            HostState::Armed => 'A',
            HostState::Fired => 'F',
            HostState::Healthy => 'H',
            HostState::Failed { .. } => 'X',
            HostState::Unreachable { .. } => 'U',
            HostState::Drifted { .. } => 'D',
            HostState::Disarmed => '-',
        }
    }

    /// A pass/fail mark: `✓`/`✗` with colour, `ok`/`NO` without.
    pub fn mark(&self, ok: bool) -> (&'static str, Style) {
        match (self.mono, ok) {
            (false, true) => ("✓", self.style(Tone::Good)),
            (false, false) => ("✗", self.style(Tone::Bad)),
            (true, true) => ("ok", self.style(Tone::Plain)),
            (true, false) => ("NO", self.style(Tone::Bad)),
        }
    }
}
