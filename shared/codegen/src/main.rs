//! `make generate`: writes every generated file from the code and says which
//! changed. Review the diff before committing it.

fn main() -> std::process::ExitCode {
    let files = match sparkhub_codegen::generated() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("generate: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for file in &files {
        match sparkhub_codegen::golden::write(file) {
            Ok(true) => println!("wrote     {}", file.path),
            Ok(false) => println!("unchanged {}", file.path),
            Err(e) => {
                eprintln!("generate: {}: {e}", file.path);
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
