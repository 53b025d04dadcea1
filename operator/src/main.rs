fn main() {
    eprintln!("mesh: not yet implemented");
    std::process::exit(2);
}
