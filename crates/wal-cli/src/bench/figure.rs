//! What `wal bench` reports: figures next to their baselines, as a table or
//! as JSON.

use serde::Serialize;

/// One measured figure and the baseline it is judged against.
///
/// `wal bench --json` prints an array of these; the field names are stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// Stable identifier, `what/parameters`, e.g. `append/buffered/1KiB`.
    pub name: String,
    /// The measured value, in `unit`.
    pub value: f64,
    /// `MB/s` (10^6 bytes per second), `records/s`, `appends/s`, `puts/s`
    /// or `s` (seconds).
    pub unit: &'static str,
    /// The baseline taken in the same run, in the same unit.
    pub baseline: f64,
    /// What the baseline is, in a few words.
    pub baseline_name: String,
    /// `value / baseline` for rates, `baseline / value` for durations: above
    /// 1 is always better than the baseline.
    pub ratio: f64,
    /// The ratio the project aims for, when it sets one.
    pub target: Option<f64>,
    /// The same ratio computed from raw operations alone: what a log with no
    /// overhead of its own would reach on this disk. Set where `ratio`
    /// compares two figures of the log (a batch against one fsync per
    /// record), so that a target beyond the disk shows as such.
    pub raw_ratio: Option<f64>,
}

impl Figure {
    /// A rate (more is better).
    pub fn rate(
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        baseline: f64,
        baseline_name: impl Into<String>,
    ) -> Figure {
        Figure {
            name: name.into(),
            value,
            unit,
            baseline,
            baseline_name: baseline_name.into(),
            ratio: value / baseline,
            target: None,
            raw_ratio: None,
        }
    }

    /// A duration in seconds (less is better).
    pub fn seconds(
        name: impl Into<String>,
        value: f64,
        baseline: f64,
        baseline_name: impl Into<String>,
    ) -> Figure {
        Figure {
            ratio: baseline / value,
            ..Figure::rate(name, value, "s", baseline, baseline_name)
        }
    }

    /// Sets the ratio the project aims for.
    pub fn target(self, target: f64) -> Figure {
        Figure {
            target: Some(target),
            ..self
        }
    }

    /// Sets the ratio the raw operations reach (see [`Figure::raw_ratio`]).
    pub fn raw_ratio(self, raw_ratio: f64) -> Figure {
        Figure {
            raw_ratio: Some(raw_ratio),
            ..self
        }
    }

    /// Whether the ratio reaches its target; `None` without a target.
    pub fn met(&self) -> Option<bool> {
        self.target.map(|target| self.ratio >= target)
    }
}

/// The figures as a Markdown table: `figure | value | baseline | ratio |
/// target`, padded so that it also reads well in a terminal.
pub fn table(figures: &[Figure]) -> String {
    let header = ["figure", "value", "baseline", "ratio", "target"].map(String::from);
    let rows: Vec<[String; 5]> = figures
        .iter()
        .map(|figure| {
            let target = match (figure.target, figure.met()) {
                (Some(target), Some(met)) => {
                    // To three decimals: a target of 1 / 1.5 reads 0.667.
                    let shown = (target * 1000.0).round() / 1000.0;
                    let verdict = format!("≥ {shown} {}", if met { "met" } else { "MISSED" });
                    match figure.raw_ratio {
                        Some(raw) => format!("{verdict} (raw: {raw:.2})"),
                        None => verdict,
                    }
                }
                _ => String::new(),
            };
            [
                figure.name.clone(),
                format!("{} {}", number(figure.value), figure.unit),
                format!(
                    "{} {} ({})",
                    number(figure.baseline),
                    figure.unit,
                    figure.baseline_name
                ),
                ratio(figure.ratio),
                target,
            ]
        })
        .collect();
    let mut widths = header.clone().map(|cell| cell.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header);
    let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// A ratio to three digits (`0.398`, `1.02`, `59.9`): two decimals would
/// print 0.398 as `0.40` beside a verdict of "≥ 0.4 MISSED".
fn ratio(value: f64) -> String {
    match value.abs() {
        v if v >= 10.0 => format!("{value:.1}"),
        v if v >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

/// A number with as many decimals as its size deserves.
fn number(value: f64) -> String {
    match value.abs() {
        v if v >= 1000.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_above_one_when_better_than_the_baseline() {
        let rate = Figure::rate("r", 200.0, "MB/s", 100.0, "base");
        assert_eq!(rate.ratio, 2.0);
        let duration = Figure::seconds("d", 2.0, 1.0, "base");
        assert_eq!(duration.ratio, 0.5);
        assert_eq!(duration.target(0.7).met(), Some(false));
        assert_eq!(rate.target(1.5).met(), Some(true));
    }

    #[test]
    fn table_has_one_aligned_row_per_figure() {
        let figures = [
            Figure::rate("append/buffered/1KiB", 812.25, "MB/s", 1000.0, "write").target(0.7),
            Figure::seconds("kvstore_recover/1M", 1.5, 0.25, "read + crc32"),
            Figure::rate(
                "append_batch/64/64KiB",
                6000.0,
                "records/s",
                3000.0,
                "one fsync",
            )
            .target(20.0)
            .raw_ratio(1.834),
        ];
        let table = table(&figures);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines[4].contains("| ≥ 20 MISSED (raw: 1.83) |"),
            "a target beyond the disk shows the disk's own ratio: {table}"
        );
        assert!(lines[0].starts_with("| figure "));
        assert!(lines[2].contains("| 812.2 MB/s "), "{table}");
        assert!(lines[2].contains("| 0.812 "), "{table}");
        assert!(lines[2].contains("≥ 0.7 met"), "{table}");
        assert!(lines[3].contains("| 0.167 "), "{table}");
        assert!(lines[4].contains("| 2.00 "), "{table}");
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{table}");
    }

    #[test]
    fn a_ratio_just_under_its_target_does_not_print_as_the_target() {
        let figure = Figure::rate("append/buffered/32B", 398.5, "MB/s", 1000.0, "write");
        let table = table(&[figure.target(0.4)]);
        assert!(table.contains("| 0.399 | ≥ 0.4 MISSED |"), "{table}");
        assert_eq!(ratio(59.93), "59.9");
        assert_eq!(ratio(1.006), "1.01");
    }

    #[test]
    fn json_fields_are_the_documented_ones() {
        let figure = Figure::rate("group_commit/16_threads", 8.0, "puts/s", 2.0, "1 thread");
        let json = serde_json::to_value(figure.target(4.0)).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "baseline",
                "baseline_name",
                "name",
                "ratio",
                "raw_ratio",
                "target",
                "unit",
                "value"
            ]
        );
        assert_eq!(json["ratio"], 4.0);
    }
}
