fn main() -> std::process::ExitCode {
    netzpost::cli::main()
}
