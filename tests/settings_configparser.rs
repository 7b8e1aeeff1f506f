//! The ini reader against the real `configparser` of the CPython on `PATH` (`python3`):
//! for each tricky text, both as `ConfigParser()` reads it (lowercased names) and as
//! PasteDeploy does (`optionxform = str`, defaults `here` and `__file__`), every
//! `(section, option, value)` — or the exception class of the file or of the value — must
//! be the same, in the same order.
//!
//! A missing `python3` fails the test, naming the Debian package.

use std::io::Write;
use std::process::{Command, Stdio};

use pyramid_session::settings::{Ini, IniError};
use serde_json::{json, Value};

const HERE: &str = "/srv/my app";
const FILE: &str = "/srv/my app/production.ini";

const SCRIPT: &str = r#"
import configparser, io, json, sys
cases = json.load(sys.stdin)
out = []
for text in cases:
    per_mode = []
    for paste in (False, True):
        if paste:
            p = configparser.ConfigParser(defaults={"here": sys.argv[1], "__file__": sys.argv[2]})
            p.optionxform = str
        else:
            p = configparser.ConfigParser()
        try:
            p.read_file(io.StringIO(text, newline=None))
        except configparser.Error as e:
            per_mode.append({"error": type(e).__name__})
            continue
        sections = []
        for name in p.sections() + ["DEFAULT"]:
            keys = list(p.defaults().keys()) if name == "DEFAULT" else p.options(name)
            got = []
            for key in keys:
                try:
                    got.append([key, p.get(name, key)])
                except configparser.Error as e:
                    got.append([key, {"error": type(e).__name__}])
            sections.append([name, got])
        per_mode.append({"sections": sections})
    out.append(per_mode)
json.dump(out, sys.stdout)
"#;

const CASES: &[&str] = &[
    // The CubicWeb docs' example: `#` after a value, continuation lists.
    "[main]\ncubicweb.defaults = no # we do not want to load the default cw session handling\n\n\
     cubicweb.auth.authtkt.session.secret = <secret1>\nredis.sessions.prefix = <my-app>:\n\
     redis.sessions.url = redis://localhost:6379/0\n\npyramid.includes =\n        pyramid_redis_sessions\n\
     \x20       cubicweb.pyramid.auth\n        cubicweb.pyramid.login\n",
    // Interpolation: same section first, then DEFAULT; mixed-case names; %%; nesting.
    "[DEFAULT]\nRoot = /srv\nname = app\nurl = redis://%(host)s/0\n[app:main]\n\
     path = %(root)s/%(NAME)s/x\nPath2 = %(Root)s\npct = 100%%\nhost = db\nroot = /opt\n\
     chain = %(path)s:%(pct)s\nliteral = %%(root)s\n[other]\nv = %(root)s\nu = %(url)s\n",
    // Interpolation errors, and the depth limit at 10 levels.
    "[s]\nmissing = %(nope)s\nbad = 5%\nbad2 = %(x)d\nbad3 = %()s\nbad4 = %(unclosed\nloop = %(loop)s\n\
     a = %(b)s\nb = %(a)s\nv0 = end\nv1 = %(v0)s%%\nv2 = %(v1)s%%\nv3 = %(v2)s%%\nv4 = %(v3)s%%\n\
     v5 = %(v4)s%%\nv6 = %(v5)s%%\nv7 = %(v6)s%%\nv8 = %(v7)s%%\nv9 = %(v8)s%%\nv10 = %(v9)s%%\n\
     v11 = %(v10)s%%\nspace = %(na me)s\n",
    // %(here)s and %(__file__)s (only PasteDeploy defines them).
    "[DEFAULT]\ndata = %(here)s/data\n[app:main]\nsqlite = sqlite:///%(data)s/db.sqlite\nme = %(__file__)s\n",
    // DEFAULT overriding a constructor default; DEFAULT referring to a section's option.
    "[DEFAULT]\nhere = /elsewhere\nd = %(x)s\n[s]\nx = 1\nh = %(here)s\n[t]\ny = 2\n",
    // Continuation lines: empty lines kept, comments dropped, deeper indents, trailing blanks.
    "[s]\nk = first\n  second\n\n  # a comment line\n\n      deeper\n  ; another\n  last\n\n\n\
     e =\n\n  after empty\nnext = 1\n  [not a section]\n\ttabbed\n\n",
    // Indented option lines: continuation is relative to the option's own indent.
    "[s]\n  a = 1\n    cont\n  b = 2\nc = 3\n   c-cont\n[t]\n  x = 1\n",
    // Separators: `:` and `=`, the first one wins, spaces around, empty values.
    "[s]\nkey: value\nk2 : a = b\nk3 = a : b\nk4=\nk5:\nspaced key = v\n  k6   =   v6   \n\
     url = http://x:8080/a?b=c#frag\n",
    // `#` and `;` inside values, full-line comments (indented too).
    "# top\n; top\n[s]\n# c\n    ; indented comment\na = x # y\nb = ;z\nc = #\nd = a;b#c\n",
    // Section headers: spaces kept, last `]`, trailing text, DEFAULT re-entered.
    "[ spaced ]\na = 1\n[a]b]\nb = 2\n[x] trailing\nc = 3\n[DEFAULT]\nd = 4\n[y]\ne = 5\n[DEFAULT]\nf = 6\n",
    // Mixed-case keys: a duplicate for ConfigParser(), two options for PasteDeploy.
    "[s]\nKey = 1\nkey = 2\n",
    "[s]\nCubicWeb.Session.Secret = A\ncubicweb.session.secret = %(CubicWeb.Session.Secret)s\n",
    // Errors of the file itself.
    "k = v\n[s]\n",
    "[s]\nk = v\nnovalue\n",
    "[s]\n= x\n",
    "[s]\n[t]\n[s]\n",
    "[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n",
    // Line endings and odd whitespace.
    "[s]\r\na = 1\r\nb = 2\r  cont\r\n\r\nc = %(a)s\r\n",
    "[s]\n\u{a0}k = v\u{a0}\nk2 = \x0cform\x0bfeed\x0c\nk3 = \x1cfs\x1f\n",
    // Unicode names lowercase as Python's str.lower.
    "[Ünï]\nÉté = chaud\nCLÉ = %(été)s\n",
    // Empty file, only comments, an empty section.
    "",
    "# nothing\n\n",
    "[empty]\n",
];

fn python(input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, HERE, FILE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 not found ({e}): apt-get install python3"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    String::from_utf8(out.stdout).unwrap()
}

fn class(e: &IniError) -> &'static str {
    match e {
        IniError::MissingSectionHeader { .. } => "MissingSectionHeaderError",
        IniError::Parsing { .. } => "ParsingError",
        IniError::DuplicateSection { .. } => "DuplicateSectionError",
        IniError::DuplicateOption { .. } => "DuplicateOptionError",
        IniError::InterpolationMissingOption { .. } => "InterpolationMissingOptionError",
        IniError::InterpolationSyntax { .. } => "InterpolationSyntaxError",
        IniError::InterpolationDepth { .. } => "InterpolationDepthError",
        other => panic!("no Python counterpart: {other:?}"),
    }
}

fn rust(text: &str, paste: bool) -> Value {
    let parsed = if paste {
        Ini::paste_deploy(text, Some(HERE), Some(FILE))
    } else {
        Ini::parse(text)
    };
    let ini = match parsed {
        Ok(ini) => ini,
        Err(e) => return json!({ "error": class(&e) }),
    };
    let mut names: Vec<&str> = ini.sections().collect();
    names.push("DEFAULT");
    let mut sections = Vec::new();
    for name in names {
        let keys: Vec<&str> = if name == "DEFAULT" {
            ini.raw_defaults().iter().map(|(k, _)| k.as_str()).collect()
        } else {
            ini.options(name)
        };
        let got: Vec<Value> = keys
            .into_iter()
            .map(|key| match ini.get(name, key) {
                Ok(Some(v)) => json!([key, v]),
                Ok(None) => panic!("{name}/{key} listed but missing"),
                Err(e) => json!([key, { "error": class(&e) }]),
            })
            .collect();
        sections.push(json!([name, got]));
    }
    json!({ "sections": sections })
}

#[test]
fn every_value_reads_as_python_configparser_reads_it() {
    let expected: Value = serde_json::from_str(&python(&json!(CASES).to_string())).unwrap();
    let expected = expected.as_array().unwrap();
    assert_eq!(expected.len(), CASES.len());
    let mut compared = 0;
    for (text, modes) in CASES.iter().zip(expected) {
        for (paste, want) in [false, true].into_iter().zip(modes.as_array().unwrap()) {
            let got = rust(text, paste);
            assert_eq!(
                &got,
                want,
                "\nini text {text:?}\nmode: {}\nRust:   {got}\nPython: {want}",
                if paste {
                    "PasteDeploy"
                } else {
                    "ConfigParser()"
                }
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 2 * CASES.len());
}

#[test]
fn python_sees_the_errors_we_expect() {
    // Guard against a harness that compares nothing: some cases must be errors in Python.
    let expected: Value = serde_json::from_str(&python(&json!(CASES).to_string())).unwrap();
    let text = expected.to_string();
    for class in [
        "MissingSectionHeaderError",
        "ParsingError",
        "DuplicateSectionError",
        "DuplicateOptionError",
        "InterpolationMissingOptionError",
        "InterpolationSyntaxError",
        "InterpolationDepthError",
    ] {
        assert!(text.contains(class), "no case raises {class}");
    }
    assert!(text.contains("/srv/my app/data/db.sqlite"), "{text}");
}
