//! create-cluster's event decoding on arbitrary bytes: a trigger or a typed
//! error, never a panic; and every accepted object key is safe for a step.
#![no_main]

use sparkhub_core::create::CreateError;
use sparkhub_core::create::object_key::ObjectKey;
use sparkhub_core::create::trigger::{Trigger, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ObjectKey::parse(text);
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match parse(&event) {
        Ok(Trigger::ObjectCreated { key, .. }) => {
            assert!(ObjectKey::parse(key.as_str()).is_ok());
        }
        Ok(_) | Err(CreateError::BadEvent(_)) | Err(CreateError::UnsafeObjectKey { .. }) => {}
        Err(other) => panic!("unexpected error from the event parser: {other:?}"),
    }
});
