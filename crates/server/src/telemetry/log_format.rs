//! The text log line, written without the general formatting machinery.
//!
//! Every request logs two lines and opens a span with four fields, so the
//! server formats some twenty fields a request. `tracing_subscriber`'s
//! default formatters write each part through `core::fmt`, with styles
//! that are empty without colours, and its clock works out the calendar
//! date for every line. [`TextLine`] and [`Fields`] write the parts and the
//! common values (text, integers, booleans) directly, and [`UtcMicros`]
//! works out the date once a second on each thread. They write exactly
//! what the defaults write, which the tests check against the defaults
//! themselves. With colours on (a terminal), the defaults do the work.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{
    DefaultFields, DefaultVisitor, Format, FormatEvent, Full, Writer,
};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Writes a line as `tracing_subscriber`'s default (full) format does:
/// time, level, the spans from the outermost with their fields, target,
/// and the event's fields.
#[derive(Debug)]
pub(crate) struct TextLine<T = UtcMicros> {
    timer: T,
    /// The default format, for lines in colour.
    coloured: Format<Full, T>,
}

impl Default for TextLine {
    fn default() -> Self {
        Self::with_timer(UtcMicros)
    }
}

impl<T: FormatTime + Clone> TextLine<T> {
    fn with_timer(timer: T) -> Self {
        Self {
            coloured: Format::default().with_timer(timer.clone()),
            timer,
        }
    }
}

impl<S, N, T> FormatEvent<S, N> for TextLine<T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    N: for<'writer> FormatFields<'writer> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return self.coloured.format_event(context, writer, event);
        }
        // A `log` record's own level and target, not the bridge's.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_char(' ')?;
        writer.write_str(match *metadata.level() {
            Level::TRACE => "TRACE",
            Level::DEBUG => "DEBUG",
            Level::INFO => " INFO",
            Level::WARN => " WARN",
            Level::ERROR => "ERROR",
        })?;
        writer.write_char(' ')?;
        if let Some(scope) = context.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                any = true;
                writer.write_str(span.metadata().name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            if any {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(metadata.target())?;
        writer.write_str(": ")?;
        context.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// Formats fields as `tracing_subscriber`'s `DefaultFields` does.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fields;

impl<'writer> FormatFields<'writer> for Fields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return DefaultFields::new().format_fields(writer, fields);
        }
        let mut visitor = Visitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes `name=value` pairs separated by spaces; the message bare.
struct Visitor<'writer> {
    writer: Writer<'writer>,
    /// Nothing was written yet, so no separating space is due.
    first: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    /// Writes a field, `value` writing its value: after a space unless it
    /// is the first, and after `name=` unless it is the message. Fields a
    /// `log` record carries as metadata are not written.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        if !std::mem::take(&mut self.first)
            && let Err(error) = self.writer.write_char(' ')
        {
            self.result = Err(error);
            return;
        }
        self.result = (|| {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.writer.write_str(name)?;
            self.writer.write_char('=')?;
            value(&mut self.writer)
        })();
    }

    /// Writes a value whose `{:?}` is `text`.
    fn plain(&mut self, field: &Field, value: &dyn fmt::Debug, text: &str) {
        if field.name() == "message" {
            self.record_debug(field, value);
        } else {
            self.field(field, |out| out.write_str(text));
        }
    }

    /// Writes the message, with terminal control characters escaped.
    fn message(&mut self, write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        if !std::mem::take(&mut self.first)
            && let Err(error) = self.writer.write_char(' ')
        {
            self.result = Err(error);
            return;
        }
        self.result = if self.writer.sanitizes_ansi_escapes() {
            write(&mut Escaping(&mut self.writer))
        } else {
            write(&mut self.writer)
        };
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message(|out| out.write_str(value));
        } else {
            self.field(field, |out| write_quoted(out, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, &value, itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, &value, itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, &value, if value { "true" } else { "false" });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // Rare, and written with the error's sources: as the default does.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.first);
        visitor.record_error(field, value);
        self.first = false;
        self.result = tracing_subscriber::field::VisitOutput::finish(visitor);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message(|out| write!(out, "{value:?}"));
        } else {
            self.field(field, |out| write!(out, "{value:?}"));
        }
    }
}

/// Writes `value` as `{:?}` does: in quotes, escaped. Plain printable
/// ASCII, what nearly every value is, is written as it is.
fn write_quoted(out: &mut Writer<'_>, value: &str) -> fmt::Result {
    if value
        .bytes()
        .all(|byte| matches!(byte, b' '..=b'~') && byte != b'"' && byte != b'\\')
    {
        out.write_char('"')?;
        out.write_str(value)?;
        out.write_char('"')
    } else {
        write!(out, "{value:?}")
    }
}

/// Escapes the characters a terminal acts on (escape, bell, backspace, form
/// feed, delete and the C1 controls), as `tracing_subscriber` does for a
/// message, so a message cannot move the cursor or recolour a terminal.
struct Escaping<'a, 'writer>(&'a mut Writer<'writer>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // C1 controls are U+0080..U+009F, which UTF-8 writes after 0xC2.
        if !text
            .bytes()
            .any(|byte| matches!(byte, 0x07 | 0x08 | 0x0c | 0x1b | 0x7f | 0xc2))
        {
            return self.0.write_str(text);
        }
        for ch in text.chars() {
            match ch {
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(ch))?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

/// The time in UTC to the microsecond, `2026-12-04T11:47:28.904683Z`, as
/// `tracing_subscriber`'s `SystemTime` writes it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UtcMicros;

thread_local! {
    /// The second last written on this thread, and its text up to the
    /// fraction (`2026-12-04T11:47:28.`).
    static SECOND: Cell<Option<(u64, [u8; 20])>> = const { Cell::new(None) };
}

impl FormatTime for UtcMicros {
    fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
        match fast_stamp(SystemTime::now()) {
            Some(stamp) => writer.write_str(stamp.as_str()),
            // A clock before 1970 or past 9999: as the default writes it.
            None => tracing_subscriber::fmt::time::SystemTime.format_time(writer),
        }
    }
}

/// The time now as the log lines write it (`2026-12-04T11:47:28.904683Z`,
/// RFC 3339 in UTC to the microsecond), for the audit records.
pub(crate) fn now_utc_micros() -> String {
    let now = SystemTime::now();
    match fast_stamp(now) {
        Some(stamp) => stamp.as_str().to_owned(),
        None => chrono::DateTime::<chrono::Utc>::from(now)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }
}

/// `time`'s text, if it is one [`stamp`] writes: from 1970 to 9999.
fn fast_stamp(time: SystemTime) -> Option<Stamp> {
    let since_epoch = time.duration_since(UNIX_EPOCH).ok()?;
    stamp(since_epoch.as_secs(), since_epoch.subsec_micros())
}

/// A timestamp's text: 27 bytes, the year in four digits.
struct Stamp {
    bytes: [u8; 27],
}

impl Stamp {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.bytes).unwrap_or("<unknown time>")
    }
}

/// The text of `seconds` since the epoch and `micros` into the next;
/// `None` past the year 9999.
fn stamp(seconds: u64, micros: u32) -> Option<Stamp> {
    let prefix = match SECOND.get() {
        Some((second, prefix)) if second == seconds => prefix,
        _ => {
            let prefix = second_prefix(seconds)?;
            SECOND.set(Some((seconds, prefix)));
            prefix
        }
    };
    let mut bytes = [0; 27];
    bytes[..20].copy_from_slice(&prefix);
    let mut rest = micros.min(999_999);
    for slot in bytes[20..26].iter_mut().rev() {
        *slot = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
    }
    bytes[26] = b'Z';
    Some(Stamp { bytes })
}

/// `2026-12-04T11:47:28.` for a second since the epoch; `None` past the
/// year 9999, which four digits cannot write.
fn second_prefix(seconds: u64) -> Option<[u8; 20]> {
    use chrono::{Datelike as _, Timelike as _};
    let time = i64::try_from(seconds)
        .ok()
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .filter(|time| time.year() <= 9999)?;
    let mut text = String::with_capacity(20);
    write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
    .ok()?;
    text.as_bytes().try_into().ok()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Everything written to it, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(
                &self
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
            .into_owned()
        }
    }

    #[derive(Debug)]
    struct Failure {
        cause: std::io::Error,
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the store failed")
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.cause)
        }
    }

    /// Spans and events with every kind of field the server logs, and
    /// text a caller controls.
    fn log_everything() {
        let id = "3d379bd2-a38c-468e-95e9-4fc202a10b1c";
        let request = tracing::info_span!(
            "request",
            request_id = %id,
            client_request_id = Some("client-7"),
            method = %"POST",
            path = %"/mcp",
            otel.name = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
        );
        let _entered = request.enter();
        tracing::info!(status = 200_u16, latency_us = 215_u64, "request finished");
        request.record("http.response.status_code", 404_u64);
        request.record("otel.name", "POST /mcp");
        tracing::info!(
            target: "orchestrator::decision",
            request_id = %id,
            client_request_id = None::<&str>,
            principal = %"K2demomachine",
            principal_kind = "machine",
            tenant = ?None::<String>,
            tool = %"ping",
            decision = "allow",
            policies = ?vec!["tools.ping".to_owned()],
            errors = ?Vec::<String>::new(),
            latency_us = 2310_u64,
            "decision"
        );
        let nested = tracing::warn_span!("tool", r#type = "quick", depth = -1_i64);
        let _nested = nested.enter();
        tracing::warn!(
            quoted = "say \"hi\"\\ \t\n",
            unicode = "héllo ✓ \u{7f} \u{85}",
            ratio = 0.25_f64,
            large = 1_u128 << 100,
            negative = i64::MIN,
            yes = true,
            no = false,
            error = &Failure {
                cause: std::io::Error::other("disk \x1b[31mfull")
            } as &(dyn std::error::Error + 'static),
            "a message with \x1b[2J control \x07 characters \u{9b} and {} arguments",
            2
        );
        tracing::error!(message = "a message given as a field \x1b", n = 1_u64);
        tracing::info!(only = "fields", count = 3_i64);
        tracing::info!("");
        let empty = tracing::info_span!("empty");
        let _empty = empty.enter();
        tracing::info!(message = 7_u64, flag = true);
    }

    /// One moment, so that lines written at different times compare.
    #[derive(Clone, Copy)]
    struct Noon;

    impl FormatTime for Noon {
        fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
            writer.write_str("2026-12-04T12:00:00.000000Z")
        }
    }

    fn logged_with<N, E>(fields: N, line: E, ansi: bool) -> String
    where
        N: for<'writer> FormatFields<'writer> + Send + Sync + 'static,
        E: FormatEvent<tracing_subscriber::Registry, N> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let out = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .fmt_fields(fields)
            .event_format(line)
            .with_writer(move || out.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, log_everything);
        captured.text()
    }

    fn default_line() -> Format<Full, Noon> {
        Format::default().with_timer(Noon)
    }

    #[test]
    fn lines_are_written_exactly_as_the_default_format_writes_them() {
        let ours = logged_with(Fields, TextLine::with_timer(Noon), false);
        let default = logged_with(DefaultFields::new(), default_line(), false);
        assert_eq!(ours, default);
        assert!(
            ours.starts_with("2026-12-04T12:00:00.000000Z  INFO request{request_id="),
            "{ours}"
        );
        assert!(
            ours.contains("decision=\"allow\" policies=[\"tools.ping\"]"),
            "{ours}"
        );
        assert!(ours.contains("\\x1b[2J control \\x07"), "{ours}");
        assert_eq!(ours.lines().count(), 7, "{ours}");
    }

    #[test]
    fn with_colours_the_default_format_writes_the_line() {
        let ours = logged_with(Fields, TextLine::with_timer(Noon), true);
        assert_eq!(
            ours,
            logged_with(DefaultFields::new(), default_line(), true)
        );
        assert!(ours.contains("\x1b["), "{ours}");
    }

    #[test]
    fn a_log_record_is_written_with_its_own_level_and_target() {
        use log::Log as _;
        let record = || {
            tracing_log::LogTracer::new().log(
                &log::Record::builder()
                    .level(log::Level::Warn)
                    .target("some_library::pool")
                    .args(format_args!("connection {} lost", 3))
                    .build(),
            );
        };
        let with = |ours: bool| {
            let captured = Captured::default();
            let out = captured.clone();
            let layer = tracing_subscriber::fmt::layer().with_ansi(false);
            let layer = if ours {
                layer
                    .event_format(TextLine::with_timer(Noon))
                    .fmt_fields(Fields)
                    .with_writer(move || out.clone())
                    .boxed()
            } else {
                layer
                    .event_format(default_line())
                    .with_writer(move || out.clone())
                    .boxed()
            };
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, record);
            captured.text()
        };
        let ours = with(true);
        assert_eq!(ours, with(false));
        assert!(
            ours.contains(" WARN some_library::pool: connection 3 lost"),
            "{ours}"
        );
    }

    #[test]
    fn timestamps_read_as_rfc_3339_in_utc_to_the_microsecond() {
        for (seconds, micros) in [
            (0, 0),
            (1_764_849_448, 904_683),
            (1_764_849_448, 5),
            (1_764_849_449, 999_999),
            (951_782_400, 123_456), // 2000-02-29
            (253_402_300_799, 1),   // 9999-12-31T23:59:59
        ] {
            let expected = chrono::DateTime::from_timestamp(seconds, micros * 1000)
                .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            let written = stamp(u64::try_from(seconds).unwrap_or_default(), micros)
                .map(|stamp| stamp.as_str().to_owned());
            assert_eq!(written, expected, "{seconds}.{micros:06}");
        }
        assert!(stamp(253_402_300_800, 0).is_none(), "the year 10000");
    }

    #[test]
    fn a_clock_outside_the_years_1970_to_9999_is_still_written() {
        let before = UNIX_EPOCH - std::time::Duration::from_millis(500);
        assert!(fast_stamp(before).is_none());
        assert_eq!(
            chrono::DateTime::<chrono::Utc>::from(before)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "1969-12-31T23:59:59.500000Z"
        );
        let after = UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_800);
        assert!(fast_stamp(after).is_none());
        assert!(fast_stamp(UNIX_EPOCH).is_some());
    }
}
