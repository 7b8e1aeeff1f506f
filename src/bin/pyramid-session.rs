//! `pyramid-session`: sign, verify and inspect Pyramid/WebOb session cookies.
//!
//! ```text
//! pyramid-session [--secret S | --secret-file PATH]... [--salt SALT | --preset NAME]
//!                 [--hashalg NAME] <COMMAND>
//!   sign [--serializer json|pickle] [--session [--now T]]
//!                         read one JSON value on stdin, print the signed cookie value
//!                         (--session: a state, signed as the session cookie Pyramid sends)
//!   verify COOKIE [--serializer json|pickle]     (COOKIE: the value, or name=value)
//!                         print the signed payload (exit 1 and a reason on failure)
//!   inspect COOKIE [--serializer json|pickle]
//!                         human-readable view: dates, age, expiry, reissue, state
//!   keygen                print a new random secret
//!   pickle decode [--hex] [--allow-opaque]
//!                         read a pickle on stdin, print it as tagged JSON on one line
//!   pickle encode --protocol N [--hex]
//!                         read tagged JSON on stdin, write the pickle (protocol 2, 4 or 5)
//!   authtkt [--include-ip ADDR] verify VALUE [--now T] [--timeout N] [--reissue-time N]
//!                         verify a Pyramid AuthTkt ticket, print it as one JSON object
//!   authtkt [--include-ip ADDR] sign --userid V [--userid-type T] [--token T]... [--now T]
//!                         print the ticket value Pyramid's remember() sets
//! ```
//!
//! Secrets come from exactly one source: `--secret` options, `--secret-file` options, or
//! (when the command line has neither) the `PYRAMID_SESSION_SECRET` environment variable.
//! `keygen` and `pickle` need none.

#![warn(missing_debug_implementations, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pyramid_session::authtkt;
use pyramid_session::codec::json::to_pyjson;
use pyramid_session::codec::Serializer;
use pyramid_session::cookie::push_http_date;
use pyramid_session::pickle::{self, Limits, PickleError, PyValue};
use pyramid_session::policy::{self, Policy, Verdict};
use pyramid_session::signer::{salted_secret, HashAlg, Keyring, MAX_SIGNED_VALUE_LEN};
use pyramid_session::time::{Clock, SystemClock};

/// The environment variable a secret is read from when the command line gives none.
const SECRET_ENV: &str = "PYRAMID_SESSION_SECRET";

/// Largest secret file read (a secret is a line of text; this stops e.g. `/dev/zero`).
const MAX_SECRET_FILE_LEN: u64 = 64 * 1024;

/// The range `keygen --bytes` accepts.
const KEYGEN_BYTES: core::ops::RangeInclusive<usize> = 32..=1024;

/// Sign, verify and inspect Pyramid/WebOb signed session cookies.
#[derive(Parser, Debug)]
#[command(
    name = "pyramid-session",
    version,
    about,
    after_help = "Secrets come from exactly one source: --secret options, or --secret-file \
                  options (one secret per file, one trailing newline stripped), or, when the \
                  command line has neither, the PYRAMID_SESSION_SECRET environment variable \
                  (one secret; must not be empty). The command line wins over the \
                  environment; --secret and --secret-file cannot be combined. With several \
                  secrets the first signs and all verify. keygen and pickle need no secret.\n\n\
                  pickle decode / pickle encode convert between Python pickles and tagged \
                  JSON without importing or calling anything, e.g.\n  \
                  echo 8004950e000000000000007d948c0174944b014b028694732e | \
                  pyramid-session pickle decode --hex\n\
                  prints {\"t\":{\"$tuple\":[1,2]}} (see pyramid-session pickle --help)."
)]
struct Cli {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(subcommand)]
    command: Command,
}

/// How cookies are signed: WebOb `SignedSerializer(secret, salt, hashalg)`.
#[derive(Args, Debug)]
struct KeyArgs {
    /// Secret; repeat for rotation: the first signs, all verify. Visible to other users
    /// of the machine: prefer --secret-file or PYRAMID_SESSION_SECRET.
    #[arg(long = "secret", global = true, allow_hyphen_values = true)]
    secrets: Vec<String>,
    /// File holding one secret (one trailing newline is stripped); repeat for rotation.
    /// Not combinable with --secret.
    #[arg(long = "secret-file", value_name = "PATH", global = true)]
    secret_files: Vec<PathBuf>,
    /// HMAC salt.
    #[arg(
        long,
        global = true,
        default_value = "pyramid.session.",
        allow_hyphen_values = true
    )]
    salt: String,
    /// The salt of a known cookie format instead of --salt: pyramid (Pyramid's
    /// `SignedCookieSessionFactory` and CubicWeb's, `pyramid.session.`) or
    /// pyramid-session-redis (`pyramid_session_redis.`); cubicweb is pyramid's.
    #[arg(long, global = true, value_enum, conflicts_with = "salt")]
    preset: Option<Preset>,
    /// Hash algorithm: sha224, sha256, sha384, sha512, sha512_224 or sha512_256.
    #[arg(long, global = true, default_value = "sha512")]
    hashalg: String,
}

/// `--preset`: the salt of a known cookie format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Preset {
    /// `pyramid.session.`: Pyramid's `SignedCookieSessionFactory`, CubicWeb's
    /// `CWSessionFactory` and `default_session`.
    Pyramid,
    /// `pyramid.session.`, as `pyramid` (CubicWeb's own factories use Pyramid's salt).
    Cubicweb,
    /// `pyramid_session_redis.`: pyramid_session_redis's id cookie.
    PyramidSessionRedis,
}

impl KeyArgs {
    /// The salt: the preset's, or `--salt`.
    fn salt(&self) -> &str {
        match self.preset {
            Some(Preset::Pyramid | Preset::Cubicweb) => "pyramid.session.",
            Some(Preset::PyramidSessionRedis) => "pyramid_session_redis.",
            None => &self.salt,
        }
    }
}

/// A cookie as given on the command line: the value, or `name=value` as pasted from a
/// browser's cookie list (the value tried as a whole first: padded base64 ends in `=`).
fn cookie_candidates(arg: &str) -> Vec<&str> {
    let arg = arg.trim().trim_end_matches(';');
    let mut candidates = vec![arg];
    if let Some((name, value)) = arg.split_once('=') {
        let is_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if is_name && !value.is_empty() {
            candidates.push(value.trim());
        }
    }
    candidates
}

/// How the signed payload is serialized: Pyramid 2's JSON, or Pyramid 1's pickle.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SerializerArg {
    /// `JSONSerializer` (Pyramid 2's default).
    Json,
    /// `PickleSerializer` (Pyramid 1's default): protocol 5, values as tagged JSON.
    Pickle,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read one JSON value on stdin, re-emit it as Pyramid's JSONSerializer would, sign
    /// it, and print the cookie value. With --serializer pickle, read tagged JSON and
    /// sign its pickle (protocol 5, as Pyramid 1.10 writes); a top-level array of three
    /// items is the session frame `(accessed, created, state)`, pickled as the tuple
    /// Pyramid writes.
    Sign {
        /// The payload's serializer.
        #[arg(long, value_enum, default_value = "json")]
        serializer: SerializerArg,
        /// Read a session state (a JSON object) and sign the session cookie Pyramid would
        /// send for it: the frame `[int(now), now, state]` (with pickle, that tuple).
        #[arg(long)]
        session: bool,
        /// The frame's time for --session, in Unix seconds (default: now).
        #[arg(long, requires = "session")]
        now: Option<f64>,
    },
    /// Verify a cookie value; print the signed payload bytes exactly as they are (with
    /// --serializer pickle: the pickle as tagged JSON, on one line).
    Verify {
        /// The cookie value (use `--` before a value that starts with `-`).
        #[arg(allow_hyphen_values = true)]
        cookie: String,
        /// The payload's serializer.
        #[arg(long, value_enum, default_value = "json")]
        serializer: SerializerArg,
    },
    /// Show a session cookie: timestamps, age, expiry and reissue decisions, state.
    Inspect {
        /// The cookie value (use `--` before a value that starts with `-`).
        #[arg(allow_hyphen_values = true)]
        cookie: String,
        /// Time to judge the cookie at, in Unix seconds (default: now).
        #[arg(long)]
        now: Option<f64>,
        /// Idle timeout in seconds (Pyramid's default 1200).
        #[arg(long, default_value_t = 1200)]
        timeout: u64,
        /// Reissue time in seconds (Pyramid's default 0).
        #[arg(long = "reissue-time", default_value_t = 0)]
        reissue_time: u64,
        /// Refuse timestamps more than this many seconds ahead of `now` (off by default,
        /// as in Pyramid; the library's profiles use 60).
        #[arg(long = "max-future-skew")]
        max_future_skew: Option<u64>,
        /// Absolute lifetime from creation, in seconds (off by default).
        #[arg(long = "max-lifetime")]
        max_lifetime: Option<u64>,
        /// Refuse sessions created before this instant, in Unix seconds (off by default).
        #[arg(long = "not-before")]
        not_before: Option<f64>,
        /// The frame's serializer (pickle: Pyramid 1's `(accessed, created, state)`).
        #[arg(long, value_enum, default_value = "json")]
        serializer: SerializerArg,
    },
    /// Print a new random secret (64 bytes from the OS, urlsafe base64).
    Keygen {
        /// Number of random bytes, 32 to 1024.
        #[arg(long, default_value_t = 64)]
        bytes: usize,
    },
    /// Convert between Python pickles and tagged JSON, safely: nothing is ever imported
    /// or called (no secret needed).
    #[command(subcommand)]
    Pickle(PickleCommand),
    /// Pyramid's AuthTkt login tickets (`auth_tkt`, `pauth_tkt`), as its
    /// `AuthTktCookieHelper` makes and checks them (the secret is the policy's; --salt is
    /// not used; --hashalg is one of sha512, sha384, sha256, sha224).
    Authtkt(AuthtktArgs),
}

/// `authtkt`: the ticket's settings, then what to do.
#[derive(Args, Debug)]
struct AuthtktArgs {
    /// Bind the ticket to this remote address (`include_ip`; IPv4 or IPv6, verbatim).
    #[arg(long = "include-ip", value_name = "ADDR")]
    include_ip: Option<String>,
    #[command(subcommand)]
    command: AuthtktCommand,
}

#[derive(Subcommand, Debug)]
enum AuthtktCommand {
    /// Verify a ticket value (as in the cookie, quoted or not); print one JSON object:
    /// userid, userid_type, tokens, user_data, timestamp, and whether Pyramid's
    /// `identify` at --now finds it expired or reissues it. A ticket whose digest,
    /// layout or encoding is refused: exit 1 and the reason.
    Verify {
        /// The ticket value (use `--` before a value that starts with `-`).
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Time to judge the ticket at, in Unix seconds (default: now).
        #[arg(long)]
        now: Option<f64>,
        /// The policy's `timeout` in seconds (default none; 0 is none).
        #[arg(long)]
        timeout: Option<u64>,
        /// The policy's `reissue_time` in seconds (default none).
        #[arg(long = "reissue-time")]
        reissue_time: Option<u64>,
    },
    /// Print the ticket value `remember(request, userid, tokens=...)` sets, exactly as it
    /// appears in `Set-Cookie` (quoted as WebOb quotes it).
    Sign {
        /// The userid.
        #[arg(long, allow_hyphen_values = true)]
        userid: String,
        /// How the userid is encoded: int (CubicWeb's eids), b64unicode (a str, the
        /// default) or b64str (bytes, given as UTF-8 text).
        #[arg(long = "userid-type", value_enum, default_value = "b64unicode")]
        userid_type: UseridType,
        /// A token (repeatable), e.g. CubicWeb's `authticket_...`.
        #[arg(long = "token")]
        tokens: Vec<String>,
        /// The ticket's time, in Unix seconds (default: now).
        #[arg(long)]
        now: Option<f64>,
    },
}

/// `--userid-type`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum UseridType {
    /// A Python int.
    Int,
    /// A Python str.
    B64unicode,
    /// Python bytes.
    B64str,
}

/// The tagged JSON of `pickle decode` and `pickle encode`: plain JSON for what JSON holds
/// (ints of any size digit for digit, floats as Python's repr), a one-key object for the
/// rest.
#[derive(Subcommand, Debug)]
#[command(after_help = TAGGED_HELP)]
enum PickleCommand {
    /// Read a pickle (protocol 0 to 5) on stdin; print its value as tagged JSON on one
    /// line. Objects (classes, `GLOBAL` + `REDUCE`...) are refused unless --allow-opaque.
    #[command(after_help = TAGGED_HELP)]
    Decode {
        /// Read the pickle as hex text (surrounding whitespace ignored), not raw bytes.
        #[arg(long)]
        hex: bool,
        /// Keep objects as `{"$object": ...}` nodes instead of refusing the pickle (they
        /// are never imported or called).
        #[arg(long = "allow-opaque")]
        allow_opaque: bool,
    },
    /// Read one tagged JSON value on stdin; write its pickle as CPython 3.11 writes it
    /// (raw bytes, or hex text with --hex).
    #[command(after_help = TAGGED_HELP)]
    Encode {
        /// Pickle protocol: 2, 4 or 5.
        #[arg(long, value_name = "N")]
        protocol: String,
        /// Write lowercase hex text and a newline, not raw bytes.
        #[arg(long)]
        hex: bool,
    },
}

/// The tagged JSON forms, shown by `pickle --help` and its subcommands' help.
const TAGGED_HELP: &str = "Tagged JSON: None, bools, ints (any size), floats, str, lists and \
    dicts with str keys are plain JSON; a JSON number with a fraction or an exponent is a \
    float. The rest are one-key objects: {\"$tuple\": [..]}, {\"$bytes\": \"hex\"}, \
    {\"$bytearray\": \"hex\"}, {\"$set\": [..]}, {\"$frozenset\": [..]}, \
    {\"$dict\": [[key, value], ..]} (non-str keys), {\"$float\": \"nan\" | \"inf\" | \
    \"-inf\"}, {\"$str\": [code points]} (lone surrogates), {\"$object\": {\"module\", \
    \"name\", \"how\", \"args\", \"kwargs\", \"state\"}}.\n\n\
    Example:\n  \
    echo '{\"t\": {\"$tuple\": [1, 2]}}' | pyramid-session pickle encode --protocol 4 --hex\n\
    prints 8004950e000000000000007d948c0174944b014b028694732e, and\n  \
    echo 8004950e000000000000007d948c0174944b014b028694732e | pyramid-session pickle decode --hex\n\
    prints {\"t\":{\"$tuple\":[1,2]}}.\n\n\
    Refused input (a bad pickle, JSON, tag, hex or protocol; an object without \
    --allow-opaque): exit status 1, one line on stderr, nothing on stdout.";

/// Standard output that ends the process quietly (status 0) when the reader has gone
/// (`pyramid-session ... | head`): there is no one left to tell.
struct Stdout(std::io::StdoutLock<'static>);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        quiet_on_broken_pipe(self.0.write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        quiet_on_broken_pipe(self.0.flush())
    }
}

impl core::fmt::Debug for Stdout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Stdout")
    }
}

fn quiet_on_broken_pipe<T>(result: std::io::Result<T>) -> std::io::Result<T> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}

/// A failure reported on stderr with exit code 1.
struct Failure(String);

impl<E: core::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.to_string())
    }
}

/// Reads a `--secret-file`: its text, one trailing `\n` or `\r\n` stripped.
fn read_secret_file(path: &PathBuf) -> Result<String, Failure> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| Failure(format!("--secret-file {shown}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure(format!("--secret-file {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_LEN {
        return Err(Failure(format!(
            "--secret-file {shown}: over {MAX_SECRET_FILE_LEN} bytes, not a secret"
        )));
    }
    let mut text = String::from_utf8(bytes)
        .map_err(|_| Failure(format!("--secret-file {shown}: not UTF-8 text")))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// The secrets, from exactly one source: `--secret`, `--secret-file`, or the environment.
fn secrets(args: &KeyArgs) -> Result<Vec<String>, Failure> {
    match (args.secrets.is_empty(), args.secret_files.is_empty()) {
        (false, false) => Err(Failure(
            "give secrets with --secret or with --secret-file, not both".into(),
        )),
        (false, true) => Ok(args.secrets.clone()),
        (true, false) => args.secret_files.iter().map(read_secret_file).collect(),
        (true, true) => match std::env::var(SECRET_ENV) {
            Ok(secret) if secret.is_empty() => Err(Failure(format!(
                "{SECRET_ENV} is set but empty (use --secret= for an empty secret)"
            ))),
            Ok(secret) => Ok(vec![secret]),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Failure(format!("{SECRET_ENV} is not UTF-8 text")))
            }
            Err(std::env::VarError::NotPresent) => Err(Failure(format!(
                "no secret: pass --secret S or --secret-file PATH (repeatable), or set {SECRET_ENV}"
            ))),
        },
    }
}

fn keyring(args: &KeyArgs) -> Result<Keyring, Failure> {
    let secrets = secrets(args)?;
    let alg = HashAlg::from_name(&args.hashalg)?;
    // WebOb accepts an empty secret (the key is then the salt alone); so does this tool,
    // to inspect such cookies. The library's configuration refuses it.
    let keys: Vec<Vec<u8>> = secrets
        .iter()
        .map(|s| salted_secret(args.salt(), s))
        .collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    Ok(Keyring::from_keys(alg, &refs)?)
}

#[expect(
    clippy::disallowed_methods,
    reason = "the CLI is a std edge: it reads the OS random source (keygen)"
)]
fn run(cli: Cli) -> Result<(), Failure> {
    let mut stdout = Stdout(std::io::stdout().lock());
    match cli.command {
        Command::Sign {
            serializer,
            session,
            now,
        } => {
            let ring = keyring(&cli.keys)?;
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input)?;
            let mut value: serde_json::Value = serde_json::from_slice(&input)
                .map_err(|e| Failure(format!("stdin is not one JSON value: {e}")))?;
            if session {
                if !value.is_object() {
                    return Err(Failure(
                        "--session: stdin must be the session state, a JSON object".into(),
                    ));
                }
                let now = now.unwrap_or_else(|| SystemClock.now().as_secs_f64());
                let created: serde_json::Number = {
                    let mut text = Vec::new();
                    pyramid_session::codec::json::write_float(now, &mut text)?;
                    serde_json::from_slice(&text)?
                };
                let accessed = serde_json::Value::from(policy::whole_seconds(now));
                value = serde_json::Value::Array(vec![
                    accessed,
                    serde_json::Value::Number(created),
                    value,
                ]);
            }
            let payload = match serializer {
                SerializerArg::Json => to_pyjson(&value)?.into_bytes(),
                SerializerArg::Pickle => pickled_payload(&value)?,
            };
            let cookie = ring.sign(&payload);
            // WebOb's SignedSerializer has no limit, but verify (and browsers) stop at
            // 4096 characters; Pyramid's sessions stop at 4064.
            if cookie.len() > MAX_SIGNED_VALUE_LEN {
                return Err(Failure(format!(
                    "signed value is {} characters, over the {MAX_SIGNED_VALUE_LEN} that verify \
                     and browsers accept (Pyramid's sessions refuse over 4064)",
                    cookie.len()
                )));
            }
            writeln!(stdout, "{cookie}")?;
        }
        Command::Verify { cookie, serializer } => {
            let ring = keyring(&cli.keys)?;
            let (payload, _) = verified(&ring, &cookie)?;
            let shown = match serializer {
                SerializerArg::Json => payload,
                SerializerArg::Pickle => {
                    let value = pickle::decode(&payload, &Limits::with_opaque())
                        .map_err(|e| Failure(format!("payload is not a usable pickle: {e}")))?;
                    serde_json::to_vec(&value.to_tagged()?)?
                }
            };
            stdout.write_all(&shown)?;
            stdout.write_all(b"\n")?;
        }
        Command::Inspect {
            cookie,
            now,
            timeout,
            reissue_time,
            max_future_skew,
            max_lifetime,
            not_before,
            serializer,
        } => {
            let ring = keyring(&cli.keys)?;
            let now = match now {
                Some(now) => now,
                None => SystemClock.now().as_secs_f64(),
            };
            let policy = Policy {
                timeout: Some(timeout),
                reissue_time: Some(reissue_time),
                max_future_skew,
                max_lifetime,
                not_before,
                max_expiry: None,
            };
            let serializer = match serializer {
                SerializerArg::Json => Serializer::Json,
                SerializerArg::Pickle => Serializer::Pickle,
            };
            inspect(&mut stdout, &ring, &cookie, now, &policy, serializer)?;
        }
        Command::Keygen { bytes } => {
            if !KEYGEN_BYTES.contains(&bytes) {
                return Err(Failure(format!(
                    "--bytes must be from {} to {} (got {bytes})",
                    KEYGEN_BYTES.start(),
                    KEYGEN_BYTES.end()
                )));
            }
            let mut buf = vec![0u8; bytes];
            getrandom::fill(&mut buf)
                .map_err(|e| Failure(format!("OS random source failed: {e}")))?;
            let secret = pyramid_session::base64url::encode(&buf);
            writeln!(stdout, "{secret}")?;
        }
        Command::Pickle(command) => run_pickle(&mut stdout, command)?,
        Command::Authtkt(args) => run_authtkt(&mut stdout, &cli.keys, args)?,
    }
    Ok(())
}

/// The AuthTkt helpers of the given secrets (the first signs, all verify).
fn authtkt_helpers(
    keys: &KeyArgs,
    include_ip: bool,
    timeout: Option<u64>,
    reissue_time: Option<u64>,
) -> Result<Vec<authtkt::AuthTktHelper>, Failure> {
    let alg = authtkt::HashAlg::from_name(&keys.hashalg).ok_or_else(|| {
        Failure(format!(
            "--hashalg {:?}: AuthTkt tickets use sha512, sha384, sha256 or sha224",
            keys.hashalg
        ))
    })?;
    secrets(keys)?
        .iter()
        .map(|secret| {
            Ok(
                authtkt::AuthTktHelper::builder(secret, authtkt::DomainStyle::Pyramid2)
                    .hashalg(alg)
                    .include_ip(include_ip)
                    .timeout(timeout)
                    .reissue_time(reissue_time)
                    .build()?,
            )
        })
        .collect()
}

/// Verifies a cookie argument (the value, or `name=value`); the first candidate's error
/// when none verifies.
fn verified(ring: &Keyring, cookie: &str) -> Result<(Vec<u8>, usize), Failure> {
    let mut first = None;
    for candidate in cookie_candidates(cookie) {
        match ring.verify(candidate.as_bytes()) {
            Ok(ok) => return Ok(ok),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.map_or_else(|| Failure("empty cookie".into()), Failure::from))
}

/// `authtkt verify` and `authtkt sign`.
fn run_authtkt(out: &mut impl Write, keys: &KeyArgs, args: AuthtktArgs) -> Result<(), Failure> {
    let ip = args.include_ip.as_deref();
    let addr = ip.unwrap_or("0.0.0.0");
    let clock = || SystemClock.now().as_secs_f64();
    match args.command {
        AuthtktCommand::Verify {
            value,
            now,
            timeout,
            reissue_time,
        } => {
            let now = now.unwrap_or_else(clock);
            // `0` is no timeout, as in Pyramid.
            let timeout = timeout.filter(|t| *t != 0);
            let helpers = authtkt_helpers(keys, ip.is_some(), timeout, reissue_time)?;
            // As in a `Cookie` header (quoted, `\054`), or already unquoted (a raw `,`);
            // or `auth_tkt=VALUE` as pasted from a browser.
            let values: Vec<String> = cookie_candidates(&value)
                .into_iter()
                .map(|v| authtkt::cookie_value_text(v).unwrap_or_else(|| v.to_string()))
                .collect();
            let mut first_error = None;
            for (helper, value) in helpers
                .iter()
                .flat_map(|h| values.iter().map(move |v| (h, v)))
            {
                match helper.verify(value, addr) {
                    Ok(ticket) => {
                        let json = ticket_json(helper, &ticket, now)?;
                        writeln!(out, "{json}")?;
                        return Ok(());
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            let e = first_error.map_or_else(|| "no secret".to_string(), |e| e.to_string());
            return Err(Failure(format!("ticket refused: {e}")));
        }
        AuthtktCommand::Sign {
            userid,
            userid_type,
            tokens,
            now,
        } => {
            let now = now.unwrap_or_else(clock);
            let helpers = authtkt_helpers(keys, ip.is_some(), None, None)?;
            let helper = helpers.first().ok_or_else(|| Failure("no secret".into()))?;
            let userid = match userid_type {
                UseridType::Int => authtkt::UserId::Int(userid.trim().parse().map_err(|_| {
                    Failure(format!(
                        "--userid {userid:?} is not an int (--userid-type int)"
                    ))
                })?),
                UseridType::B64unicode => authtkt::UserId::Text(userid),
                UseridType::B64str => authtkt::UserId::Bytes(userid.into_bytes()),
            };
            let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let headers = helper.remember("localhost", addr, now, &userid, &tokens, None)?;
            let value = headers
                .first()
                .and_then(|h| h.split(';').next())
                .and_then(|pair| pair.split_once('='))
                .map(|(_, value)| value)
                .ok_or_else(|| Failure("remember produced no cookie".into()))?;
            writeln!(out, "{value}")?;
        }
    }
    Ok(())
}

/// `authtkt verify`'s JSON object for a verified ticket.
fn ticket_json(
    helper: &authtkt::AuthTktHelper,
    ticket: &authtkt::Ticket,
    now: f64,
) -> Result<serde_json::Value, Failure> {
    let userid = ticket
        .userid()
        .map_err(|e| Failure(format!("ticket refused: {e}")))?;
    let userid = match userid {
        authtkt::UserId::Int(n) => serde_json::Value::Number(n.to_string().parse()?),
        authtkt::UserId::Text(text) => serde_json::Value::String(text),
        // Bytes as Latin-1 text: one character per byte, nothing lost.
        authtkt::UserId::Bytes(bytes) => {
            serde_json::Value::String(bytes.iter().map(|b| char::from(*b)).collect())
        }
    };
    let userid_type = ticket
        .user_data()
        .split('|')
        .find_map(|d| d.strip_prefix("userid_type:"))
        .map(|t| serde_json::Value::String(t.to_string()))
        .unwrap_or(serde_json::Value::Null);
    let expired = helper.is_expired(ticket, now);
    let reissue = !expired && helper.reissue_due(ticket, now);
    // `identify` drops empty tokens when it reissues (Pyramid issue 2750), not otherwise.
    let tokens: Vec<&str> = ticket
        .tokens()
        .filter(|t| !(reissue && t.is_empty()))
        .collect();
    Ok(serde_json::json!({
        "userid": userid,
        "userid_type": userid_type,
        "tokens": tokens,
        "user_data": ticket.user_data(),
        "timestamp": ticket.timestamp(),
        "expired": expired,
        "reissue": reissue,
    }))
}

/// `pickle decode` and `pickle encode`: no secret; all output is written at the end, so
/// a refused input leaves stdout empty.
fn run_pickle(out: &mut impl Write, command: PickleCommand) -> Result<(), Failure> {
    match command {
        PickleCommand::Decode { hex, allow_opaque } => {
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input)?;
            let bytes = if hex { unhex(&input)? } else { input };
            let limits = if allow_opaque {
                Limits::with_opaque()
            } else {
                Limits::default()
            };
            let value = pickle::decode(&bytes, &limits).map_err(|e| match e {
                PickleError::Opaque => Failure(format!("{e}: pass --allow-opaque to keep them")),
                e => Failure(e.to_string()),
            })?;
            let tagged = value.to_tagged()?;
            let mut line = serde_json::to_vec(&tagged)?;
            line.push(b'\n');
            out.write_all(&line)?;
        }
        PickleCommand::Encode { protocol, hex } => {
            let protocol = match protocol.as_str() {
                "2" => 2,
                "4" => 4,
                "5" => 5,
                _ => {
                    return Err(Failure(format!(
                        "--protocol must be 2, 4 or 5 (got {protocol:?})"
                    )))
                }
            };
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input)?;
            // Into a `Value`: with `arbitrary_precision`, big ints and float text survive.
            let json: serde_json::Value = serde_json::from_slice(&input)
                .map_err(|e| Failure(format!("stdin is not one JSON value: {e}")))?;
            let value = PyValue::from_tagged(&json)
                .map_err(|e| Failure(format!("stdin is not tagged JSON: {e}")))?;
            let bytes = pickle::encode(&value, protocol)?;
            if hex {
                let mut text = String::with_capacity(bytes.len() * 2 + 1);
                for b in &bytes {
                    text.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
                    text.push(char::from(HEX_DIGITS[usize::from(b & 15)]));
                }
                text.push('\n');
                out.write_all(text.as_bytes())?;
            } else {
                out.write_all(&bytes)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `sign --serializer pickle`: the tagged JSON value's pickle at Pyramid 1.10's protocol
/// 5; a top-level array of three items is a session frame, written as a tuple.
fn pickled_payload(value: &serde_json::Value) -> Result<Vec<u8>, Failure> {
    let mut value = PyValue::from_tagged(value)
        .map_err(|e| Failure(format!("stdin is not tagged JSON: {e}")))?;
    if let PyValue::List(items) = value {
        value = if items.len() == 3 {
            PyValue::Tuple(items)
        } else {
            PyValue::List(items)
        };
    }
    Ok(pickle::encode(&value, 5)?)
}

/// Hex text (either case; surrounding whitespace ignored) to bytes.
fn unhex(text: &[u8]) -> Result<Vec<u8>, Failure> {
    let text = text.trim_ascii();
    if !text.len().is_multiple_of(2) {
        return Err(Failure(format!(
            "hex input has an odd number of digits ({})",
            text.len()
        )));
    }
    let digit = |i: usize| -> Result<u8, Failure> {
        let c = text[i];
        char::from(c)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| Failure(format!("hex input: byte {i} is not a hex digit")))
    };
    (0..text.len())
        .step_by(2)
        .map(|i| Ok(digit(i)? << 4 | digit(i + 1)?))
        .collect()
}

fn date(secs: f64) -> String {
    let mut out = String::new();
    push_http_date(&mut out, policy::floor_seconds(secs));
    out
}

fn inspect(
    out: &mut impl Write,
    ring: &Keyring,
    cookie: &str,
    now: f64,
    policy: &Policy,
    serializer: Serializer,
) -> Result<(), Failure> {
    let (payload, key_index) = verified(ring, cookie)?;
    writeln!(
        out,
        "signature:  valid ({}, key {} of {}{})",
        ring.alg(),
        key_index + 1,
        ring.len(),
        if key_index > 0 {
            ", an old key: re-sign"
        } else {
            ""
        }
    )?;
    let frame = match serializer.decode(&payload) {
        Ok(frame) => frame,
        Err(e) => {
            match serializer {
                Serializer::Json => {
                    writeln!(out, "payload:    {}", String::from_utf8_lossy(&payload))?
                }
                _ => writeln!(out, "payload:    {} bytes", payload.len())?,
            }
            return Err(Failure(format!("not a session cookie: {e}")));
        }
    };
    let mut text = Vec::new();
    pyramid_session::codec::json::write_float(frame.renewed, &mut text)?;
    writeln!(
        out,
        "issued:     {} ({})",
        String::from_utf8_lossy(&text),
        date(frame.renewed)
    )?;
    text.clear();
    pyramid_session::codec::json::write_float(frame.created, &mut text)?;
    writeln!(
        out,
        "created:    {} ({})",
        String::from_utf8_lossy(&text),
        date(frame.created)
    )?;
    writeln!(out, "now:        {now} ({})", date(now))?;
    writeln!(
        out,
        "age:        {:.3} s since issued, {:.3} s since created",
        now - frame.renewed,
        now - frame.created
    )?;
    // The library's own verdict, in its one fixed order.
    let verdict = policy.judge(now, frame.renewed, frame.created);
    writeln!(out, "verdict:    {}", verdict.as_str())?;
    let timeout = policy.timeout.unwrap_or(0);
    let reissue_time = policy.reissue_time.unwrap_or(0);
    writeln!(
        out,
        "expired:    {} (timeout {timeout} s)",
        if verdict == Verdict::Expired {
            "yes"
        } else {
            "no"
        }
    )?;
    let reissue = verdict == Verdict::Valid && policy.reissue_due(now, frame.renewed);
    writeln!(
        out,
        "reissue:    {} (reissue time {reissue_time} s)",
        if reissue {
            "due on next read"
        } else {
            "not due"
        }
    )?;
    let state = serde_json::to_string_pretty(&serde_json::Value::Object(frame.state))?;
    writeln!(out, "state:\n{state}")?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(reason)) => {
            eprintln!("pyramid-session: {reason}");
            ExitCode::FAILURE
        }
    }
}
