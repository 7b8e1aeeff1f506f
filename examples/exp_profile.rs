#[path = "../benches/scenarios/mod.rs"]
mod scenarios;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (g, f, n): (&str, &str, usize) = (&args[1], &args[2], args[3].parse().unwrap());
    let mut s = scenarios::scenarios(g, n)
        .into_iter()
        .find(|s| s.function == f)
        .unwrap()
        .run;
    for _ in 0..300_000 {
        s();
    }
}
