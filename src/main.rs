// Parsing and rendering allocate many small strings from several threads at
// once; mimalloc does that markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    envdash::cli::main()
}
