//! Chat prompts: the model's own Jinja chat template (GGUF `tokenizer.chat_template`) rendered
//! with minijinja as Hugging Face's `apply_chat_template` does (`messages`,
//! `add_generation_prompt`, `bos_token`, `eos_token`, Python string methods, `raise_exception`).

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
}
