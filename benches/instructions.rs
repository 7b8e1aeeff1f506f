//! Runs one benchmark scenario N times, for instruction counting under
//! `valgrind --tool=callgrind` (`benches/instructions.sh`): counts are repeatable on a
//! noisy machine where times are not.
//!
//! `instructions GROUP/FUNCTION/SIZE N`

mod scenarios;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (Some(id), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        // `cargo bench` runs every bench target; without arguments there is nothing to do.
        eprintln!("usage: instructions GROUP/FUNCTION/SIZE N");
        return;
    };
    let parts: Vec<&str> = id.split('/').collect();
    let [group, function, size] = parts[..] else {
        panic!("bad id {id}");
    };
    let size: usize = size.parse().expect("size");
    let mut scenario = scenarios::scenarios(group, size)
        .into_iter()
        .find(|s| s.function == function)
        .unwrap_or_else(|| panic!("no scenario {id}"));
    for _ in 0..n {
        (scenario.run)();
    }
}
