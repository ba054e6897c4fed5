fn main() {
    std::process::exit(bulkhead::run(std::env::args_os()));
}
