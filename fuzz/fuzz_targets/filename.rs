//! Wheel and sdist filenames, and project names: any string gives a value or an error, and a
//! parsed filename shows as given and stays a single harmless path component.
#![no_main]

use gt4py_publish::filename::DistFilename;
use gt4py_publish::name::ProjectName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = DistFilename::parse(text) {
        assert_eq!(name.to_string(), text);
        assert_eq!(name.as_str(), text);
        assert!(!text.contains(['/', '\\']) && !text.contains(".."));
        assert!(text.starts_with(name.stem()));
        assert!(text.ends_with(name.kind().extension()));
        if let Some(tags) = name.wheel_tags() {
            assert!(!tags.expanded().is_empty());
        }
        // The normalized name is a valid name that normalizes to itself.
        let again = ProjectName::new(name.project().as_str()).expect("normalized name is valid");
        assert_eq!(&again, name.project());
        assert_eq!(DistFilename::parse(name.as_str()).as_ref(), Ok(&name));
    }
    if let Ok(project) = ProjectName::new(text) {
        let again = ProjectName::new(project.as_str()).expect("normalized name is valid");
        assert_eq!(again, project);
        assert!(
            project
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }
});
