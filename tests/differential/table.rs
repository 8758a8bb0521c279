//! The differences table, `tests/differential/differences.md`: every line where the
//! component's output may differ from native LuaSocket's, with both texts, and the
//! reason. It is markdown so that it reads as documentation, in two tables: the
//! reasons (a key, a kind, the explanation), and the lines (script, label, the two
//! texts, the reason's key), since one cause often shows on many lines.
//! docs/differential.md carries a summary rendered from it ([`render`]): each reason
//! with the lines it explains.
//!
//! Cells holding output are code spans (`` `text` ``, more backticks when the text has
//! some), with `|` written `\|` as GitHub's tables need; [`cell`] and [`uncell`] are
//! the two directions and must stay each other's inverse.

use std::collections::HashSet;

/// How a difference is to be read (the `kind` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ours is wrong; it should be fixed and the entry removed.
    Bug,
    /// Ours differs on purpose: WASI cannot do it, or native's behaviour is a bug.
    Deliberate,
    /// Debian's build of LuaSocket/LuaSec is not what we match (the LuaRocks debug
    /// build, current versions).
    NativeBuild,
}

impl Kind {
    fn parse(text: &str) -> Result<Kind, String> {
        match text {
            "bug" => Ok(Kind::Bug),
            "deliberate" => Ok(Kind::Deliberate),
            "native build" => Ok(Kind::NativeBuild),
            other => Err(format!(
                "kind {other:?}: expected bug, deliberate or native build"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Bug => "bug",
            Kind::Deliberate => "deliberate",
            Kind::NativeBuild => "native build",
        }
    }
}

/// Why some lines differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub key: String,
    pub kind: Kind,
    pub why: String,
}

/// One line: labelled `label` in `script`'s output, it reads `native` under native Lua
/// and `component` in the component (`(absent)` when that runtime prints no such line),
/// for the reason keyed `reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub script: String,
    pub label: String,
    pub native: String,
    pub component: String,
    pub reason: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub reasons: Vec<Reason>,
    pub entries: Vec<Entry>,
}

pub const REASONS: &str = "| reason | kind | why |";
pub const LINES: &str = "| script | label | native | component | reason |";

/// Both tables in `text` (the prose around them is ignored), checked: keys unique,
/// every line's reason defined, every reason used.
pub fn parse(text: &str) -> Result<Table, String> {
    let reasons = rows(text, REASONS)?
        .iter()
        .map(|cells| parse_reason(cells))
        .collect::<Result<Vec<_>, _>>()?;
    let entries = rows(text, LINES)?
        .iter()
        .map(|cells| parse_entry(cells))
        .collect::<Result<Vec<_>, _>>()?;
    let table = Table { reasons, entries };
    check(&table)?;
    Ok(table)
}

/// The rows (as cells) of the table under `header`, up to the first line that is not
/// a row.
fn rows(text: &str, header: &str) -> Result<Vec<Vec<String>>, String> {
    let mut lines = text.lines().skip_while(|line| line.trim() != header);
    if lines.next().is_none() {
        return Err(format!("no table with the header {header}"));
    }
    Ok(lines
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .map(split_row)
        .collect())
}

fn parse_reason(cells: &[String]) -> Result<Reason, String> {
    let [key, kind, why] = cells else {
        return Err(format!(
            "reason {cells:?}: {} cells, expected 3",
            cells.len()
        ));
    };
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("reason key {key:?}: letters, digits and - only"));
    }
    Ok(Reason {
        key: key.clone(),
        kind: Kind::parse(kind)?,
        why: why.clone(),
    })
}

fn parse_entry(cells: &[String]) -> Result<Entry, String> {
    let [script, label, native, component, reason] = cells else {
        return Err(format!("line {cells:?}: {} cells, expected 5", cells.len()));
    };
    let text = |cell: &str| uncell(cell).map_err(|e| format!("line {cells:?}: {e}"));
    Ok(Entry {
        script: text(script)?,
        label: text(label)?,
        native: text(native)?,
        component: text(component)?,
        reason: reason.clone(),
    })
}

fn check(table: &Table) -> Result<(), String> {
    let mut keys = HashSet::new();
    for r in &table.reasons {
        if !keys.insert(r.key.as_str()) {
            return Err(format!("reason {} is defined twice", r.key));
        }
    }
    let mut lines = HashSet::new();
    for e in &table.entries {
        if !lines.insert((&e.script, &e.label)) {
            return Err(format!("{} / {} is listed twice", e.script, e.label));
        }
        if !keys.contains(e.reason.as_str()) {
            return Err(format!(
                "{} / {}: no reason {}",
                e.script, e.label, e.reason
            ));
        }
    }
    let used: HashSet<&str> = table.entries.iter().map(|e| e.reason.as_str()).collect();
    match table
        .reasons
        .iter()
        .find(|r| !used.contains(r.key.as_str()))
    {
        Some(r) => Err(format!("reason {} explains no line (stale)", r.key)),
        None => Ok(()),
    }
}

/// The cells of a row, `\|` unescaped to `|` (in every cell, as GitHub does).
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    // The row's closing `|` leaves an empty last cell.
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells.iter().map(|c| c.trim().to_owned()).collect()
}

/// Text as a table cell: a code span whose fence is longer than any run of backticks
/// inside, padded with a space when the text starts or ends with one (CommonMark).
pub fn cell(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}").replace('|', "\\|")
}

/// The text of a cell written by [`cell`] (with `\|` already unescaped).
fn uncell(cell: &str) -> Result<String, String> {
    let fence = cell.len() - cell.trim_start_matches('`').len();
    if fence == 0 || cell.len() < 2 * fence || !cell.ends_with(&"`".repeat(fence)) {
        return Err(format!("{cell:?} is not a code span"));
    }
    let inner = &cell[fence..cell.len() - fence];
    let padded = inner.len() >= 2 && inner.starts_with(' ') && inner.ends_with(' ');
    if padded {
        // The padding [`cell`] adds is there only beside a backtick.
        let trimmed = &inner[1..inner.len() - 1];
        if trimmed.starts_with('`') || trimmed.ends_with('`') {
            return Ok(trimmed.to_owned());
        }
    }
    Ok(inner.to_owned())
}

/// A line of the table as differences.md writes it.
pub fn row(e: &Entry) -> String {
    format!(
        "| {} | {} | {} | {} | {} |",
        cell(&e.script),
        cell(&e.label),
        cell(&e.native),
        cell(&e.component),
        e.reason
    )
}

pub const BEGIN: &str = "<!-- differences:begin -->";
pub const END: &str = "<!-- differences:end -->";

/// docs/differential.md's block, between the markers: each reason, its kind, and the lines it
/// explains (their texts are in differences.md).
pub fn render(table: &Table) -> String {
    let mut out = vec![
        BEGIN.to_owned(),
        "<!-- Generated from tests/differential/differences.md by tests/differential.rs \
         (DIFFERENTIAL_BLESS=1 rewrites it); edit the table there. -->"
            .to_owned(),
        "| kind | what differs, and why | lines (script: label) |".to_owned(),
        "|---|---|---|".to_owned(),
    ];
    for r in &table.reasons {
        let lines: Vec<String> = table
            .entries
            .iter()
            .filter(|e| e.reason == r.key)
            .map(|e| cell(&format!("{}: {}", e.script, e.label)))
            .collect();
        out.push(format!(
            "| {} | {} | {} |",
            r.kind.name(),
            r.why.replace('|', "\\|"),
            lines.join(", ")
        ));
    }
    out.push(END.to_owned());
    out.join("\n")
}

/// Where the block between the markers is in `page`, markers included.
pub fn block(page: &str) -> Option<std::ops::Range<usize>> {
    let start = page.find(BEGIN)?;
    let end = page[start..].find(END)? + start + END.len();
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip() {
        for text in [
            "plain",
            "a | b",
            "unsupported option `x'",
            "`starts",
            "ends`",
            "``",
            "\\|",
            "x\\",
            " spaced ",
        ] {
            let row = format!("| {} |", cell(text));
            let cells = split_row(&row);
            assert_eq!(uncell(&cells[0]).as_deref(), Ok(text), "{row}");
        }
    }

    fn document(reasons: &[&str], lines: &[&str]) -> String {
        format!(
            "prose\n\n{REASONS}\n|---|---|---|\n{}\n\nmore prose\n\n{LINES}\n|---|---|---|---|---|\n{}\n\nafter\n",
            reasons.join("\n"),
            lines.join("\n")
        )
    }

    const WHY: &str = "| r1 | bug | because a \\| b |";
    const LINE: &str = "| `core` | `sleep \"x\"` | `a \\| b` | `(absent)` | r1 |";

    #[test]
    fn tables_parse() {
        let table = parse(&document(&[WHY], &[LINE])).unwrap();
        assert_eq!(table.reasons[0].why, "because a | b");
        assert_eq!(table.reasons[0].kind, Kind::Bug);
        assert_eq!(table.entries[0].native, "a | b");
        assert_eq!(table.entries[0].component, "(absent)");
        assert_eq!(row(&table.entries[0]), LINE);
    }

    #[test]
    fn bad_tables_are_refused() {
        let bad = |reasons: &[&str], lines: &[&str]| parse(&document(reasons, lines)).is_err();
        assert!(bad(&["| r1 | maybe | why |"], &[LINE]), "unknown kind");
        assert!(bad(&["| r 1 | bug | why |"], &[LINE]), "bad key");
        assert!(
            bad(&[WHY], &["| core | `l` | `a` | `b` | r1 |"]),
            "not a span"
        );
        assert!(bad(&[WHY], &["| `core` | `l` | `a` | r1 |"]), "cells");
        assert!(bad(&[WHY], &[LINE, LINE]), "listed twice");
        assert!(bad(&[WHY, WHY], &[LINE]), "reason twice");
        assert!(
            bad(&[WHY], &["| `core` | `l` | `a` | `b` | r2 |"]),
            "undefined"
        );
        assert!(bad(&[WHY, "| r2 | bug | unused |"], &[LINE]), "unused");
        assert!(parse("no tables here").is_err());
    }

    #[test]
    fn the_docs_block_lists_each_reason_with_its_lines() {
        let table = parse(&document(&[WHY], &[LINE])).unwrap();
        let block = render(&table);
        assert!(block.starts_with(BEGIN) && block.ends_with(END));
        assert!(block.contains("| bug | because a \\| b | `core: sleep \"x\"` |"));
        let page = format!("intro\n{block}\noutro\n");
        assert_eq!(&page[self::block(&page).unwrap()], block);
    }
}
