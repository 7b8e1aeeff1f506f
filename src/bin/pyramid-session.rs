//! `pyramid-session`: sign, verify and inspect Pyramid/WebOb session cookies.
//!
//! ```text
//! pyramid-session [--secret S]... [--salt SALT] [--hashalg NAME] <COMMAND>
//!   sign                  read one JSON value on stdin, print the signed cookie value
//!   verify COOKIE         print the signed payload (exit 1 and a reason on failure)
//!   inspect COOKIE        human-readable view: dates, age, expiry, reissue, state
//!   keygen                print a new random secret
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use pyramid_session::codec::json::{decode_frame, to_pyjson};
use pyramid_session::cookie::push_http_date;
use pyramid_session::policy;
use pyramid_session::signer::{salted_secret, HashAlg, Keyring};

/// Sign, verify and inspect Pyramid/WebOb signed session cookies.
#[derive(Parser, Debug)]
#[command(name = "pyramid-session", version, about)]
struct Cli {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(subcommand)]
    command: Command,
}

/// How cookies are signed: WebOb `SignedSerializer(secret, salt, hashalg)`.
#[derive(Args, Debug)]
struct KeyArgs {
    /// Secret; repeat for rotation: the first signs, all verify.
    #[arg(long = "secret", global = true, allow_hyphen_values = true)]
    secrets: Vec<String>,
    /// HMAC salt.
    #[arg(
        long,
        global = true,
        default_value = "pyramid.session.",
        allow_hyphen_values = true
    )]
    salt: String,
    /// Hash algorithm: sha224, sha256, sha384, sha512, sha512_224 or sha512_256.
    #[arg(long, global = true, default_value = "sha512")]
    hashalg: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read one JSON value on stdin, re-emit it as Pyramid's JSONSerializer would, sign
    /// it, and print the cookie value.
    Sign,
    /// Verify a cookie value; print the signed payload bytes exactly as they are.
    Verify {
        /// The cookie value (use `--` before a value that starts with `-`).
        #[arg(allow_hyphen_values = true)]
        cookie: String,
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
    },
    /// Print a new random secret (64 bytes from the OS, urlsafe base64).
    Keygen {
        /// Number of random bytes.
        #[arg(long, default_value_t = 64)]
        bytes: usize,
    },
}

/// A failure reported on stderr with exit code 1.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.to_string())
    }
}

fn keyring(args: &KeyArgs) -> Result<Keyring, Failure> {
    if args.secrets.is_empty() {
        return Err(Failure("no secret: pass --secret S (repeatable)".into()));
    }
    let alg = HashAlg::from_name(&args.hashalg)?;
    // WebOb accepts an empty secret (the key is then the salt alone); so does this tool,
    // to inspect such cookies. The library's configuration refuses it.
    let keys: Vec<Vec<u8>> = args
        .secrets
        .iter()
        .map(|s| salted_secret(&args.salt, s))
        .collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    Ok(Keyring::from_keys(alg, &refs)?)
}

#[allow(clippy::disallowed_methods)] // the CLI reads the clock (inspect) and the OS random source (keygen)
fn run(cli: Cli) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Sign => {
            let ring = keyring(&cli.keys)?;
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input)?;
            let value: serde_json::Value = serde_json::from_slice(&input)
                .map_err(|e| Failure(format!("stdin is not one JSON value: {e}")))?;
            let text = to_pyjson(&value)?;
            writeln!(stdout, "{}", ring.sign(text.as_bytes()))?;
        }
        Command::Verify { cookie } => {
            let ring = keyring(&cli.keys)?;
            let (payload, _) = ring.verify(cookie.as_bytes())?;
            stdout.write_all(&payload)?;
            stdout.write_all(b"\n")?;
        }
        Command::Inspect {
            cookie,
            now,
            timeout,
            reissue_time,
        } => {
            let ring = keyring(&cli.keys)?;
            let now = match now {
                Some(now) => now,
                None => SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64(),
            };
            inspect(&mut stdout, &ring, &cookie, now, timeout, reissue_time)?;
        }
        Command::Keygen { bytes } => {
            if bytes < 32 {
                return Err(Failure("use at least 32 bytes".into()));
            }
            let mut buf = vec![0u8; bytes];
            getrandom::fill(&mut buf)
                .map_err(|e| Failure(format!("OS random source failed: {e}")))?;
            let secret = pyramid_session::base64url::encode(&buf);
            writeln!(stdout, "{secret}")?;
        }
    }
    Ok(())
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
    timeout: u64,
    reissue_time: u64,
) -> Result<(), Failure> {
    let (payload, key_index) = ring.verify(cookie.as_bytes())?;
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
    let frame = match decode_frame(&payload) {
        Ok(frame) => frame,
        Err(e) => {
            writeln!(out, "payload:    {}", String::from_utf8_lossy(&payload))?;
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
    let expired = policy::is_expired(now, frame.renewed, Some(timeout));
    writeln!(
        out,
        "expired:    {} (timeout {timeout} s)",
        if expired { "yes" } else { "no" }
    )?;
    let reissue = !expired && policy::reissue_due(now, frame.renewed, Some(reissue_time));
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
