//! Chat prompts: the model's own Jinja chat template (GGUF `tokenizer.chat_template`) rendered
//! with minijinja as Hugging Face's `apply_chat_template` does (`messages`,
//! `add_generation_prompt`, `bos_token`, `eos_token`, Python string methods, `raise_exception`).
//! Control tokens come from the template only: `<|im_start|>` written in a message is text.

use crate::tokenizer::Tokenizer;
use crate::Error;
use serde::{Deserialize, Serialize};

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub content: String,
}

/// Template instructions one rendering may run: a conversation of thousands of messages needs
/// far fewer; a template that loops forever (a hostile model file) stops here.
const FUEL: u64 = 5_000_000;
/// Longest prompt a rendering may produce.
const MAX_PROMPT_BYTES: usize = 4 << 20;

/// A compiled chat template.
pub struct ChatTemplate {
    env: minijinja::Environment<'static>,
    bos: String,
    eos: String,
}

impl ChatTemplate {
    /// Compiles `source`; `bos` and `eos` are the texts of the model's begin/end tokens.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<ChatTemplate, Error> {
        let mut env = minijinja::Environment::new();
        env.set_fuel(Some(FUEL));
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned("chat", source.to_owned())
            .map_err(|e| Error::Model(format!("the chat template does not compile: {e}")))?;
        Ok(ChatTemplate { env, bos: bos.to_owned(), eos: eos.to_owned() })
    }

    /// The prompt for `messages`, ending with the assistant's turn opened when
    /// `add_generation_prompt` is set.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, Error> {
        let template = self.env.get_template("chat").map_err(|e| Error::Model(e.to_string()))?;
        let prompt = template
            .render(minijinja::context! {
                messages => minijinja::value::Serde(messages),
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos,
                eos_token => &self.eos,
            })
            .map_err(|e| Error::BadRequest(format!("cannot render the chat template: {e}")))?;
        if prompt.len() > MAX_PROMPT_BYTES {
            return Err(Error::BadRequest(format!(
                "the chat template made a prompt of {} bytes (at most {MAX_PROMPT_BYTES})",
                prompt.len()
            )));
        }
        Ok(prompt)
    }

    /// Tokens of the prompt for `messages` (generation prompt added). Control tokens are
    /// parsed in what the template writes, never in what a message says: a user cannot forge
    /// a system turn by writing `<|im_end|><|im_start|>system` (most servers let them).
    ///
    /// Roles are one of [`ROLES`]. The template is rendered a second time with each content
    /// between two marker characters no message holds, which shows where contents lie in the
    /// prompt: template text is parsed for control tokens, contents are not. When that yields
    /// the control tokens the whole prompt parsed at once does (the usual case), the whole
    /// prompt's tokens are returned, exactly as other servers give them. A template that
    /// rewrites contents (`| trim`) cannot be segmented: then the prompt may hold no more
    /// control tokens than the same conversation with neutral contents.
    pub fn tokens(&self, tokenizer: &Tokenizer, messages: &[Message]) -> Result<Vec<u32>, Error> {
        if let Some(m) = messages.iter().find(|m| !ROLES.contains(&m.role.as_str())) {
            return Err(Error::BadRequest(format!(
                "role {:?}: a message's role is one of {}",
                m.role,
                ROLES.join(", ")
            )));
        }
        let prompt = self.render(messages, true)?;
        let whole = tokenizer.encode(&prompt, true)?;
        let controls = |ids: &[u32]| ids.iter().filter(|id| tokenizer.is_control(**id)).count();
        let (open, close) = markers(messages);
        let marked: Vec<Message> = messages
            .iter()
            .map(|m| Message {
                role: m.role.clone(),
                content: format!("{open}{}{close}", m.content),
            })
            .collect();
        let marked = self.render(&marked, true)?;
        // Template text and message contents, in order.
        let mut parts: Vec<(String, bool)> = vec![(String::new(), false)];
        let mut nested = false;
        for c in marked.chars() {
            let inside = parts.last().is_some_and(|p| p.1);
            if c == open && !inside {
                parts.push((String::new(), true));
            } else if c == close && inside {
                parts.push((String::new(), false));
            } else if c == open || c == close {
                nested = true;
            } else {
                parts.last_mut().expect("one part").0.push(c);
            }
        }
        let forged = || {
            let text = messages.iter().find_map(|m| tokenizer.control_in(&m.content));
            Error::BadRequest(format!(
                "a message would become the control token {}; remove it from the message",
                text.unwrap_or_else(|| "(split across messages)".into())
            ))
        };
        if !nested && parts.iter().map(|p| p.0.as_str()).collect::<String>() == prompt {
            let mut segmented = Vec::new();
            for (text, content) in parts.iter().filter(|p| !p.0.is_empty()) {
                segmented.extend(tokenizer.encode(text, !content)?);
            }
            return Ok(if controls(&segmented) == controls(&whole) { whole } else { segmented });
        }
        let neutral: Vec<Message> = messages
            .iter()
            .map(|m| Message { role: m.role.clone(), content: "x".into() })
            .collect();
        let baseline = tokenizer.encode(&self.render(&neutral, true)?, true)?;
        if controls(&whole) > controls(&baseline) {
            return Err(forged());
        }
        Ok(whole)
    }
}

/// The roles a message may have.
pub const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// Two private-use characters no message holds (markers of contents in a rendering). A
/// conversation that uses all 6400 leaves the markers ambiguous: its segmentation then fails
/// its check, and the control-token count decides.
fn markers(messages: &[Message]) -> (char, char) {
    let range = '\u{e000}'..='\u{f8ff}';
    let used: std::collections::BTreeSet<char> =
        messages.iter().flat_map(|m| m.content.chars()).filter(|c| range.contains(c)).collect();
    let mut free = range.clone().filter(|c| !used.contains(c));
    (free.next().unwrap_or('\u{e000}'), free.next().unwrap_or('\u{e001}'))
}
