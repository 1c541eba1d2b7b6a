fn main() -> std::process::ExitCode {
    envdash::cli::main()
}
