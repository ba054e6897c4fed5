// Rendering a large platform allocates millions of short strings on every core; mimalloc
// handles that with far less contention and overhead than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(bulkhead::run(std::env::args_os()));
}
