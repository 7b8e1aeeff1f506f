//! An ini reader with Python's `configparser.ConfigParser` semantics (CPython 3.11,
//! default arguments): the reader PasteDeploy, and so `pserve` and Pyramid, load
//! `development.ini` / `pyramid.ini` with.
//!
//! * Sections `[name]` (the text between the first `[` and the last `]`, not trimmed);
//!   `[DEFAULT]` values are visible in every section. A duplicate section or option is an
//!   error (`strict=True`); text before the first section header is an error.
//! * `key = value` or `key: value` (the first `=` or `:` splits), both sides trimmed.
//! * Comments are whole lines whose first non-blank character is `#` or `;`. A `#` or `;`
//!   after a value is part of the value (`inline_comment_prefixes=None`).
//! * A line indented deeper than its option's line continues the value; the pieces are
//!   joined with `\n`. Empty lines inside a value are kept (`empty_lines_in_values=True`),
//!   trailing ones dropped; comment lines inside a value are dropped.
//! * `BasicInterpolation`: `%%` is `%`, `%(name)s` is the value of `name` in the same
//!   section, else in `[DEFAULT]`, itself interpolated, at most 10 levels deep
//!   (`MAX_INTERPOLATION_DEPTH`). Any other `%` is an error.
//! * Option names are lowercased (`optionxform = str.lower`), also inside `%(…)s`, except
//!   in [`Ini::paste_deploy`], which keeps them as written as PasteDeploy does
//!   (`parser.optionxform = str`).
//!
//! Lines end at `\n`; `\r\n` and a lone `\r` are read as `\n`, as Python's text files do.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// CPython's `configparser.MAX_INTERPOLATION_DEPTH`.
pub const MAX_INTERPOLATION_DEPTH: usize = 10;

/// Interpolated values are refused beyond this length (Python has no limit; nested
/// references can otherwise grow a few bytes of ini into gigabytes).
pub const MAX_INTERPOLATED_LEN: usize = 1 << 20;

/// At most this many `%(name)s` references are expanded for one value.
const MAX_REFERENCES: usize = 100_000;

/// Why an ini text or one of its values cannot be read. The variants are Python's
/// `configparser` exceptions; lines count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IniError {
    /// `MissingSectionHeaderError`: an option before any `[section]`.
    MissingSectionHeader {
        /// The line.
        line: usize,
    },
    /// `ParsingError`: a line that is neither a section, an option, a comment nor a
    /// continuation (no `=` or `:`, or nothing before it).
    Parsing {
        /// The first such line.
        line: usize,
    },
    /// `DuplicateSectionError`.
    DuplicateSection {
        /// The section.
        section: String,
        /// Its second header.
        line: usize,
    },
    /// `DuplicateOptionError`.
    DuplicateOption {
        /// The section.
        section: String,
        /// The option, as transformed (lowercased unless PasteDeploy).
        option: String,
        /// Its second definition.
        line: usize,
    },
    /// `InterpolationMissingOptionError`: `%(name)s` names no option of the section or
    /// of `[DEFAULT]`.
    InterpolationMissingOption {
        /// The section read.
        section: String,
        /// The option read.
        option: String,
        /// The missing name.
        reference: String,
    },
    /// `InterpolationSyntaxError`: a `%` not followed by `%` or `(name)s`.
    InterpolationSyntax {
        /// The section read.
        section: String,
        /// The option read.
        option: String,
    },
    /// `InterpolationDepthError`: references nested more than
    /// [`MAX_INTERPOLATION_DEPTH`] deep (or a cycle).
    InterpolationDepth {
        /// The section read.
        section: String,
        /// The option read.
        option: String,
    },
    /// The interpolated value would exceed [`MAX_INTERPOLATED_LEN`] (a limit of this crate).
    InterpolationTooLong {
        /// The section read.
        section: String,
        /// The option read.
        option: String,
    },
    /// PasteDeploy's `get name = other`: `other` is not a global (`[DEFAULT]`) option.
    MissingGlobal {
        /// The name asked for.
        name: String,
    },
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IniError::MissingSectionHeader { line } => {
                write!(f, "ini line {line}: option before any [section] header")
            }
            IniError::Parsing { line } => write!(
                f,
                "ini line {line}: not a [section], an option (`name = value`) or a comment"
            ),
            IniError::DuplicateSection { section, line } => {
                write!(f, "ini line {line}: section [{section}] already exists")
            }
            IniError::DuplicateOption {
                section,
                option,
                line,
            } => write!(
                f,
                "ini line {line}: option {option:?} in section [{section}] already exists"
            ),
            IniError::InterpolationMissingOption {
                section,
                option,
                reference,
            } => write!(
                f,
                "[{section}] {option}: %({reference})s names no option of the section or of [DEFAULT]"
            ),
            IniError::InterpolationSyntax { section, option } => write!(
                f,
                "[{section}] {option}: '%' must be followed by '%' or '(name)s'"
            ),
            IniError::InterpolationDepth { section, option } => write!(
                f,
                "[{section}] {option}: interpolation nested deeper than {MAX_INTERPOLATION_DEPTH}"
            ),
            IniError::InterpolationTooLong { section, option } => write!(
                f,
                "[{section}] {option}: interpolated value longer than {MAX_INTERPOLATED_LEN} bytes"
            ),
            IniError::MissingGlobal { name } => {
                write!(f, "`get` names {name:?}, which is not a [DEFAULT] option")
            }
        }
    }
}

impl core::error::Error for IniError {}

type Options = Vec<(String, String)>;

/// Options while reading: each value as its list of stripped lines.
type PendingOptions = Vec<(String, Vec<String>)>;

/// A parsed ini text; values are interpolated when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ini {
    lowercase: bool,
    defaults: Options,
    sections: Vec<(String, Options)>,
}

/// Python's `str.isspace` (also `\x1c`–`\x1f`, which Rust does not count as whitespace).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn lookup<'a>(options: &'a [(String, String)], key: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn put(options: &mut Options, key: String, value: String) {
    match options.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => options.push((key, value)),
    }
}

/// Where values are being collected while reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cursor {
    Defaults,
    Section(usize),
}

impl Ini {
    /// Reads `text` as `configparser.ConfigParser().read_string(text)` does: option names
    /// lowercased, no default values.
    pub fn parse(text: &str) -> Result<Ini, IniError> {
        Ini::parse_with(text, true, &[])
    }

    /// Reads `text` as PasteDeploy's loader does: option names kept as written, and the
    /// defaults `here` (the ini file's directory) and `__file__` (its path) when given, so
    /// `%(here)s` works.
    pub fn paste_deploy(
        text: &str,
        here: Option<&str>,
        file: Option<&str>,
    ) -> Result<Ini, IniError> {
        let mut defaults = Vec::new();
        if let Some(here) = here {
            defaults.push(("here", here));
        }
        if let Some(file) = file {
            defaults.push(("__file__", file));
        }
        Ini::parse_with(text, false, &defaults)
    }

    /// Reads `text` as `ConfigParser(defaults=defaults)` does, lowercasing option names
    /// (`optionxform = str.lower`) or not (`optionxform = str`). `[DEFAULT]` in the text
    /// overrides `defaults`.
    pub fn parse_with(
        text: &str,
        lowercase_keys: bool,
        defaults: &[(&str, &str)],
    ) -> Result<Ini, IniError> {
        let mut ini = Ini {
            lowercase: lowercase_keys,
            defaults: Vec::new(),
            sections: Vec::new(),
        };
        for (k, v) in defaults {
            let key = ini.transform(k);
            put(&mut ini.defaults, key, v.to_string());
        }
        // Values as lists of stripped lines, joined at the end.
        let mut pending_defaults: PendingOptions = Vec::new();
        let mut pending: Vec<(String, PendingOptions)> = Vec::new();
        let mut added_options: Vec<(Cursor, String)> = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut option: Option<usize> = None; // index of the current option in the cursor
        let mut indent_level = 0usize;
        let mut first_error: Option<usize> = None;
        let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        for (index, line) in normalized.split('\n').enumerate() {
            let lineno = index + 1;
            let value = line.trim_matches(py_space);
            let is_comment = value.starts_with('#') || value.starts_with(';');
            if value.is_empty() || is_comment {
                // `empty_lines_in_values`: an empty (not comment) line joins the value.
                if !is_comment {
                    if let (Some(c), Some(i)) = (cursor, option) {
                        let lines = match c {
                            Cursor::Defaults => pending_defaults.get_mut(i).map(|o| &mut o.1),
                            Cursor::Section(s) => pending
                                .get_mut(s)
                                .and_then(|sec| sec.1.get_mut(i))
                                .map(|o| &mut o.1),
                        };
                        if let Some(lines) = lines {
                            lines.push(String::new());
                        }
                    }
                }
                continue;
            }
            let cur_indent = line.chars().take_while(|c| py_space(*c)).count();
            if let (Some(c), Some(i), true) = (cursor, option, cur_indent > indent_level) {
                let lines = match c {
                    Cursor::Defaults => pending_defaults.get_mut(i).map(|o| &mut o.1),
                    Cursor::Section(s) => pending
                        .get_mut(s)
                        .and_then(|sec| sec.1.get_mut(i))
                        .map(|o| &mut o.1),
                };
                if let Some(lines) = lines {
                    lines.push(value.to_string());
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(value) {
                if header == "DEFAULT" {
                    cursor = Some(Cursor::Defaults);
                } else if pending.iter().any(|(name, _)| name == header) {
                    return Err(IniError::DuplicateSection {
                        section: header.to_string(),
                        line: lineno,
                    });
                } else {
                    pending.push((header.to_string(), Vec::new()));
                    cursor = Some(Cursor::Section(pending.len() - 1));
                }
                option = None;
                continue;
            }
            let Some(c) = cursor else {
                return Err(IniError::MissingSectionHeader { line: lineno });
            };
            let Some(split) = value.find(['=', ':']) else {
                first_error.get_or_insert(lineno);
                continue;
            };
            let raw_name = value[..split].trim_end_matches(py_space);
            if raw_name.is_empty() {
                first_error.get_or_insert(lineno);
            }
            let name = ini.transform(raw_name);
            if added_options.iter().any(|(ac, n)| *ac == c && *n == name) {
                let section = match c {
                    Cursor::Defaults => "DEFAULT".to_string(),
                    Cursor::Section(s) => {
                        pending.get(s).map(|sec| sec.0.clone()).unwrap_or_default()
                    }
                };
                return Err(IniError::DuplicateOption {
                    section,
                    option: name,
                    line: lineno,
                });
            }
            added_options.push((c, name.clone()));
            let first = value[split + 1..].trim_matches(py_space).to_string();
            let options = match c {
                Cursor::Defaults => &mut pending_defaults,
                Cursor::Section(s) => match pending.get_mut(s) {
                    Some(sec) => &mut sec.1,
                    None => continue,
                },
            };
            options.push((name, alloc::vec![first]));
            option = Some(options.len() - 1);
        }
        if let Some(line) = first_error {
            return Err(IniError::Parsing { line });
        }
        let join = |lines: Vec<String>| lines.join("\n").trim_end_matches(py_space).to_string();
        for (k, lines) in pending_defaults {
            put(&mut ini.defaults, k, join(lines));
        }
        for (name, options) in pending {
            let options = options.into_iter().map(|(k, l)| (k, join(l))).collect();
            ini.sections.push((name, options));
        }
        Ok(ini)
    }

    fn transform(&self, name: &str) -> String {
        if self.lowercase {
            name.to_lowercase()
        } else {
            name.to_string()
        }
    }

    /// The section names, in file order, without `DEFAULT` (`parser.sections()`).
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(name, _)| name.as_str())
    }

    /// Whether a section exists (`DEFAULT` does not count, as `has_section`).
    pub fn has_section(&self, section: &str) -> bool {
        self.section_options(section).is_some()
    }

    fn section_options(&self, section: &str) -> Option<&Options> {
        self.sections
            .iter()
            .find(|(name, _)| name == section)
            .map(|(_, options)| options)
    }

    /// The raw (not interpolated) `[DEFAULT]` options.
    pub fn raw_defaults(&self) -> &[(String, String)] {
        &self.defaults
    }

    /// The raw value of `option` in `section` (or `DEFAULT`), falling back on `[DEFAULT]`.
    pub fn get_raw(&self, section: &str, option: &str) -> Option<&str> {
        let option = self.transform(option);
        self.section_options(section)
            .and_then(|o| lookup(o, &option))
            .or_else(|| lookup(&self.defaults, &option))
    }

    /// `parser.get(section, option)`: the interpolated value, `None` when neither the
    /// section (or `DEFAULT`) nor `[DEFAULT]` has it, or when the section does not exist.
    pub fn get(&self, section: &str, option: &str) -> Result<Option<String>, IniError> {
        if section != "DEFAULT" && !self.has_section(section) {
            return Ok(None);
        }
        match self.get_raw(section, option) {
            Some(raw) => self
                .interpolate(section, &self.transform(option), raw)
                .map(Some),
            None => Ok(None),
        }
    }

    /// `parser.items(section)`: the `[DEFAULT]` options then the section's own, each
    /// interpolated; `None` for a missing section (`DEFAULT` gives the defaults alone).
    pub fn items(&self, section: &str) -> Result<Option<Vec<(String, String)>>, IniError> {
        let own = match self.section_options(section) {
            Some(own) => own.as_slice(),
            None if section == "DEFAULT" => &[],
            None => return Ok(None),
        };
        let mut keys: Vec<&str> = self.defaults.iter().map(|(k, _)| k.as_str()).collect();
        for (k, _) in own {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let raw = lookup(own, key)
                .or_else(|| lookup(&self.defaults, key))
                .unwrap_or("");
            out.push((key.to_string(), self.interpolate(section, key, raw)?));
        }
        Ok(Some(out))
    }

    /// `parser.options(section)`: the section's own names then the `[DEFAULT]` ones.
    pub fn options(&self, section: &str) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .section_options(section)
            .map(|o| o.iter().map(|(k, _)| k.as_str()).collect())
            .unwrap_or_default();
        for (k, _) in &self.defaults {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        keys
    }

    /// `BasicInterpolation.before_get` of `raw`, read as `option` of `section`.
    fn interpolate(&self, section: &str, option: &str, raw: &str) -> Result<String, IniError> {
        let mut out = String::new();
        let mut references = 0usize;
        self.interpolate_into(section, option, raw, 1, &mut out, &mut references)?;
        Ok(out)
    }

    fn interpolate_into(
        &self,
        section: &str,
        option: &str,
        mut rest: &str,
        depth: usize,
        out: &mut String,
        references: &mut usize,
    ) -> Result<(), IniError> {
        let error_at = || (section.to_string(), option.to_string());
        if depth > MAX_INTERPOLATION_DEPTH {
            let (section, option) = error_at();
            return Err(IniError::InterpolationDepth { section, option });
        }
        let too_long = |out: &String| {
            let (section, option) = error_at();
            if out.len() > MAX_INTERPOLATED_LEN {
                Err(IniError::InterpolationTooLong { section, option })
            } else {
                Ok(())
            }
        };
        while !rest.is_empty() {
            let Some(p) = rest.find('%') else {
                out.push_str(rest);
                return too_long(out);
            };
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            if let Some(after) = rest.strip_prefix("%%") {
                out.push('%');
                rest = after;
            } else if rest.starts_with("%(") {
                // `%\(([^)]+)\)s`
                let close = rest[2..].find(')').map(|i| i + 2);
                let name = match close {
                    Some(close) if close > 2 && rest[close + 1..].starts_with('s') => {
                        &rest[2..close]
                    }
                    _ => {
                        let (section, option) = error_at();
                        return Err(IniError::InterpolationSyntax { section, option });
                    }
                };
                rest = &rest[2 + name.len() + 2..];
                let name = self.transform(name);
                *references += 1;
                if *references > MAX_REFERENCES {
                    let (section, option) = error_at();
                    return Err(IniError::InterpolationTooLong { section, option });
                }
                let value = self
                    .section_options(section)
                    .and_then(|o| lookup(o, &name))
                    .or_else(|| lookup(&self.defaults, &name));
                let Some(value) = value else {
                    let (section, option) = error_at();
                    return Err(IniError::InterpolationMissingOption {
                        section,
                        option,
                        reference: name,
                    });
                };
                if value.contains('%') {
                    self.interpolate_into(section, option, value, depth + 1, out, references)?;
                } else {
                    out.push_str(value);
                }
            } else {
                let (section, option) = error_at();
                return Err(IniError::InterpolationSyntax { section, option });
            }
            too_long(out)?;
        }
        Ok(())
    }
}

/// `SECTCRE = \[(?P<header>.+)\]` matched at the start of the stripped line: the text
/// between the first `[` and the last `]`.
fn section_header(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('[')?;
    let end = inner.rfind(']')?;
    (end > 0).then(|| &inner[..end])
}
