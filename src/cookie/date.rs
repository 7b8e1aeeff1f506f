//! HTTP dates as WebOb writes them in `expires`.

use alloc::string::String;
use core::fmt::Write as _;

/// The `expires` date WebOb writes in a removal cookie.
pub const REMOVAL_EXPIRES: &str = "Wed, 31-Dec-97 23:59:59 GMT";

/// Latest instant WebOb can date (9999-12-31 23:59:59 UTC); later ones are clamped.
const MAX_HTTP_DATE: i64 = 253_402_300_799;

/// Appends `secs` (Unix time, clamped to years 1970–9999) in WebOb's cookie date format,
/// `Tue, 14-Nov-2023 23:13:20 GMT`.
pub fn push_http_date(out: &mut String, secs: i64) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = secs.clamp(0, MAX_HTTP_DATE);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{}, {:02}-{}-{:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    );
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_webob() {
        let mut s = String::new();
        push_http_date(&mut s, 1_700_003_600);
        assert_eq!(s, "Tue, 14-Nov-2023 23:13:20 GMT");
        s.clear();
        push_http_date(&mut s, 951_782_400); // leap day 2000
        assert_eq!(s, "Tue, 29-Feb-2000 00:00:00 GMT");
        s.clear();
        push_http_date(&mut s, i64::MAX);
        assert_eq!(s, "Fri, 31-Dec-9999 23:59:59 GMT");
        s.clear();
        push_http_date(&mut s, i64::MIN);
        assert_eq!(s, "Thu, 01-Jan-1970 00:00:00 GMT");
    }
}
