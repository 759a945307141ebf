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

/// Marks around each message's content in a second rendering, to find where contents lie in
/// the prompt (private-use characters a template has no reason to touch).
const OPEN: char = '\u{e000}';
const CLOSE: char = '\u{e001}';

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
    pub fn tokens(&self, tokenizer: &Tokenizer, messages: &[Message]) -> Result<Vec<u32>, Error> {
        let prompt = self.render(messages, true)?;
        let Some(forged) = messages.iter().find_map(|m| tokenizer.control_in(&m.content)) else {
            // The usual case: the prompt tokenized whole, exactly as other servers do.
            return tokenizer.encode(&prompt, true);
        };
        let refuse = |why: &str| {
            Error::BadRequest(format!(
                "a message contains the control token {forged:?} and {why}; remove it"
            ))
        };
        if messages.iter().any(|m| m.content.contains([OPEN, CLOSE])) {
            return Err(refuse("characters U+E000/U+E001"));
        }
        let marked: Vec<Message> = messages
            .iter()
            .map(|m| Message {
                role: m.role.clone(),
                content: format!("{OPEN}{}{CLOSE}", m.content),
            })
            .collect();
        let marked = self.render(&marked, true)?;
        // Template text and message contents, in order; parsed with and without control tokens.
        let mut parts: Vec<(String, bool)> = vec![(String::new(), false)];
        for c in marked.chars() {
            let inside = parts.last().is_some_and(|p| p.1);
            match c {
                OPEN if !inside => parts.push((String::new(), true)),
                CLOSE if inside => parts.push((String::new(), false)),
                OPEN | CLOSE => return Err(refuse("the chat template moves message text")),
                c => parts.last_mut().expect("one part").0.push(c),
            }
        }
        if parts.iter().map(|p| p.0.as_str()).collect::<String>() != prompt {
            return Err(refuse("the chat template changes message text"));
        }
        let mut tokens = Vec::new();
        for (text, content) in parts.iter().filter(|p| !p.0.is_empty()) {
            tokens.extend(tokenizer.encode(text, !content)?);
        }
        Ok(tokens)
    }
}
