//! Printing for people and for scripts: aligned tables, `field  value` listings, and the
//! `--json` rule (the API's JSON, one document, on stdout).
//!
//! Cells come from the API's JSON objects, so a field the API adds later never breaks a table;
//! a missing or `null` value prints as `-`. Control characters in values are escaped, since
//! names and error texts are user input headed for a terminal.

use std::io::Write;

use serde_json::Value;

use crate::client::Reply;

/// A table with a header row, columns separated by two spaces and padded to the widest cell.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// `field  value` lines, labels padded to the longest.
pub fn fields(out: &mut impl Write, pairs: &[(&str, String)]) -> std::io::Result<()> {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (label, value) in pairs {
        writeln!(out, "{label:<width$}  {value}")?;
    }
    Ok(())
}

/// A JSON value as a cell: strings as-is, `null`/missing as `-`, arrays joined with `,`.
pub fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => return "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    escape_controls(&text)
}

/// Escapes control characters (tabs, newlines, ESC…), leaving other text as it is.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `--json` output of a single-object answer: the `data` object exactly as sent.
pub fn json_object(out: &mut impl Write, reply: &Reply) -> std::io::Result<()> {
    writeln!(out, "{}", reply.data_raw())
}

/// `--json` output of a list answer: the page exactly as sent.
pub fn json_page(out: &mut impl Write, reply: &Reply) -> std::io::Result<()> {
    writeln!(out, "{}", reply.raw.trim_end())
}

/// After a table of one page: says on stderr how to get the next one.
pub fn more_hint(err: &mut impl Write, reply: &Reply, command: &str) -> std::io::Result<()> {
    if reply.body["hasMore"] == Value::Bool(true) {
        if let Some(next) = reply.body["nextCursor"].as_str() {
            writeln!(err, "more: {command} --cursor {next}")?;
        }
    }
    Ok(())
}

/// The items of a list page.
pub fn items(reply: &Reply) -> &[Value] {
    reply.data().as_array().map_or(&[], Vec::as_slice)
}

/// Pretty JSON for a `data` payload shown to people.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_and_trim() {
        let mut table = Table::new(&["ID", "NAME", "STATUS"]);
        table.row(vec!["whe_1".into(), "a".into(), "active".into()]);
        table.row(vec!["whe_22".into(), "longer name".into(), "-".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID      NAME         STATUS\n\
             whe_1   a            active\n\
             whe_22  longer name  -\n"
        );
    }

    #[test]
    fn cells_escape_control_characters() {
        assert_eq!(cell(&json!("a\u{1b}[31mb\n")), "a\\u{1b}[31mb\\n");
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(["x", "y"])), "x,y");
        assert_eq!(cell(&json!(42)), "42");
    }
}
