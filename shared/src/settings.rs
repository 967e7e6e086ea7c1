//! A function's settings, read from its environment (or, in tests, from any
//! lookup): what is required, what is optional, and the message when a
//! required one is missing.

pub struct Settings<F: Fn(&str) -> Option<String>>(pub F);

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    /// The value when it is set and not blank.
    pub fn optional(&self, key: &str) -> Option<String> {
        (self.0)(key).filter(|v| !v.trim().is_empty())
    }

    /// The value, or `"<KEY> is not set"`.
    pub fn required(&self, key: &str) -> Result<String, String> {
        self.optional(key)
            .ok_or_else(|| format!("{key} is not set"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_missing_required_names_the_key() {
        let env = Settings(|k: &str| match k {
            "A" => Some("x".to_string()),
            "B" => Some("  ".to_string()),
            _ => None,
        });
        assert_eq!(env.optional("A").as_deref(), Some("x"));
        assert_eq!(env.optional("B"), None);
        assert_eq!(env.required("B").unwrap_err(), "B is not set");
        assert_eq!(env.required("C").unwrap_err(), "C is not set");
    }
}
