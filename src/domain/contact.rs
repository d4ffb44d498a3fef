//! Contact fields checked by real parsers: email (RFC 5322 mailbox), phone (libphonenumber),
//! preferred language (BCP 47 via ICU). Each `parse` returns the stored form or a message.

/// An email address that parsed as one addressable mailbox; stored as given (trimmed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_BYTES: usize = 254;

    pub fn parse(raw: &str) -> Result<Email, String> {
        let text = raw.trim();
        if text.len() > Self::MAX_BYTES {
            return Err(format!("Email must be at most {} bytes.", Self::MAX_BYTES));
        }
        let options = email_address::Options::default().without_display_text();
        match email_address::EmailAddress::parse_with_options(text, options) {
            Ok(_) => Ok(Email(text.to_owned())),
            Err(_) => Err(format!("`{text}` is not a valid email address.")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The form emails are compared in: Unicode default case folding, done here in Rust so every
/// database answers the same.
pub fn fold_email(text: &str) -> String {
    caseless::default_case_fold_str(text.trim())
}

/// A phone number valid under libphonenumber's rules, kept in E.164.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, String> {
        let text = raw.trim();
        let number = phonenumber::parse(None, text)
            .map_err(|_| format!("`{text}` is not a valid phone number."))?;
        if !phonenumber::is_valid(&number) {
            return Err(format!("`{text}` is not a valid phone number."));
        }
        Ok(Phone(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A well-formed BCP 47 language tag in its canonical spelling (`zh-Hant-TW`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    pub fn parse(raw: &str) -> Result<Language, String> {
        let text = raw.trim();
        let locale = icu_locale_core::Locale::try_from_str(text)
            .map_err(|_| format!("`{text}` is not a well-formed BCP 47 language tag."))?;
        Ok(Language(locale.to_string()))
    }

    pub fn default_tag() -> Language {
        Language("en".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}
