//! Text ⇄ tokens for a GGUF model: Hugging Face's `tokenizers` built from the vocabulary and
//! merges the file carries, with the pre-tokenizer its `tokenizer.ggml.pre` names, so no
//! `tokenizer.json` is needed; and the toy GPT's bytes.

use crate::Error;
use iollm_compute::gguf::{Gguf, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper};

/// GGUF token type of control tokens (`<|im_start|>`, `<|endoftext|>`): special, matched
/// whole in text only when special tokens are parsed, and left out of a decoded reply.
const CONTROL: i128 = 3;
/// GGUF token type of user-defined tokens: matched whole, kept when decoding.
const USER_DEFINED: i128 = 4;

/// A model's tokenizer.
pub enum Tokenizer {
    /// Byte-level BPE from a GGUF file.
    Bpe {
        /// The Hugging Face tokenizer, control tokens in text parsed as such.
        inner: Box<tokenizers::Tokenizer>,
        /// The same, control tokens in text taken as plain text.
        plain: Box<tokenizers::Tokenizer>,
        /// Control tokens, never shown in a reply.
        control: Vec<u32>,
        /// The bytes each token stands for (none for a control token), as the byte-level
        /// decoder gives them.
        bytes: Vec<Vec<u8>>,
    },
    /// One token per byte (the toy GPT).
    Bytes,
}

fn bad(what: impl Into<String>) -> Error {
    Error::Model(what.into())
}

impl Tokenizer {
    /// Builds the tokenizer a GGUF file describes (`tokenizer.ggml.model = "gpt2"`: byte-level
    /// BPE). The pre-tokenizers of `tokenizer.ggml.pre` this knows are llama.cpp's `smollm`
    /// (and the `gpt2`/`default` split); any other is refused rather than guessed.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, Error> {
        let model = g.str("tokenizer.ggml.model").map_err(|e| bad(e.to_string()))?;
        if model != "gpt2" {
            return Err(bad(format!(
                "tokenizer model {model:?}: this runtime builds byte-level BPE (\"gpt2\") tokenizers"
            )));
        }
        let pre = g.str("tokenizer.ggml.pre").unwrap_or("default");
        let pre_tokenizer: PreTokenizerWrapper = match pre {
            // llama.cpp: "\p{N}" then the GPT-2 expression; HF: Digits(individual) + ByteLevel.
            "smollm" | "starcoder" | "refact" => Sequence::new(vec![
                Digits::new(true).into(),
                ByteLevel::new(false, true, true).into(),
            ])
            .into(),
            "gpt2" | "default" => ByteLevel::new(false, true, true).into(),
            other => {
                return Err(bad(format!(
                    "pre-tokenizer {other:?}: this runtime knows \"smollm\", \"starcoder\", \"refact\", \"gpt2\""
                )))
            }
        };
        let tokens = g.strings("tokenizer.ggml.tokens").map_err(|e| bad(e.to_string()))?;
        let merges = g.strings("tokenizer.ggml.merges").map_err(|e| bad(e.to_string()))?;
        let types: Vec<i128> = match g.get("tokenizer.ggml.token_type") {
            Ok(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Int(t) => Ok(*t),
                    other => Err(bad(format!("token type {other:?}"))),
                })
                .collect::<Result<_, _>>()?,
            _ => vec![1; tokens.len()],
        };
        if types.len() != tokens.len() {
            return Err(bad(format!("{} token types for {} tokens", types.len(), tokens.len())));
        }
        let vocab: tokenizers::models::bpe::Vocab =
            tokens.iter().enumerate().map(|(i, t)| ((*t).to_owned(), i as u32)).collect();
        let merges = merges
            .iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| bad(format!("merge {m:?} is not two tokens")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| bad(format!("vocabulary and merges: {e}")))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(pre_tokenizer));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let mut control = Vec::new();
        let mut added = Vec::new();
        for (i, (t, ty)) in tokens.iter().zip(&types).enumerate() {
            if *ty == CONTROL {
                control.push(i as u32);
                added.push(AddedToken::from((*t).to_owned(), true));
            } else if *ty == USER_DEFINED {
                added.push(AddedToken::from((*t).to_owned(), false));
            }
        }
        inner.add_special_tokens(&added);
        let mut plain = inner.clone();
        plain.set_encode_special_tokens(true);
        let bytes = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| if control.contains(&(i as u32)) { Vec::new() } else { byte_level(t) })
            .collect();
        Ok(Tokenizer::Bpe { inner: Box::new(inner), plain: Box::new(plain), control, bytes })
    }

    /// Tokens of `text`. With `special`, control tokens written in the text (`<|im_start|>`)
    /// become their ids (a rendered chat prompt); without, they are plain text (a user's
    /// completion prompt cannot forge them).
    pub fn encode(&self, text: &str, special: bool) -> Result<Vec<u32>, Error> {
        match self {
            Tokenizer::Bytes => Ok(text.bytes().map(u32::from).collect()),
            Tokenizer::Bpe { inner, plain, .. } => {
                let tokenizer = if special { inner } else { plain };
                let enc = tokenizer
                    .encode_fast(text, false)
                    .map_err(|e| bad(format!("cannot tokenize: {e}")))?;
                Ok(enc.get_ids().to_vec())
            }
        }
    }

    /// Text of `ids`, control tokens left out; bytes that are not yet a whole UTF-8 character
    /// come out as U+FFFD (see [`Detokenizer`] for streaming).
    pub fn decode(&self, ids: &[u32]) -> Result<String, Error> {
        match self {
            Tokenizer::Bytes => {
                let bytes: Vec<u8> = ids.iter().map(|i| *i as u8).collect();
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            Tokenizer::Bpe { inner, .. } => {
                inner.decode(ids, true).map_err(|e| bad(format!("cannot decode: {e}")))
            }
        }
    }

    /// Tokens it knows.
    pub fn len(&self) -> usize {
        match self {
            Tokenizer::Bytes => 256,
            Tokenizer::Bpe { inner, .. } => inner.get_vocab_size(true),
        }
    }

    /// Whether it knows no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first control token written out in `text` (`<|im_start|>`), if any.
    pub fn control_in(&self, text: &str) -> Option<String> {
        match self {
            Tokenizer::Bytes => None,
            Tokenizer::Bpe { inner, control, .. } => control
                .iter()
                .filter_map(|id| inner.id_to_token(*id))
                .find(|t| text.contains(t.as_str())),
        }
    }

    /// The bytes token `id` adds to a reply (none for a control token or an unknown id).
    pub fn bytes(&self, id: u32) -> &[u8] {
        match self {
            Tokenizer::Bytes => BYTES.get(id as usize).map_or(&[], std::slice::from_ref),
            Tokenizer::Bpe { bytes, .. } => bytes.get(id as usize).map_or(&[], Vec::as_slice),
        }
    }

    /// Whether `id` is a control token (an end-of-turn marker, never shown).
    pub fn is_control(&self, id: u32) -> bool {
        match self {
            Tokenizer::Bytes => false,
            Tokenizer::Bpe { control, .. } => control.contains(&id),
        }
    }
}

/// Every byte value, for the toy GPT's one-byte tokens.
const BYTES: [u8; 256] = {
    let mut all = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        all[i] = i as u8;
        i += 1;
    }
    all
};

/// The bytes a byte-level BPE token stands for: each character mapped back through GPT-2's
/// byte-to-character table, or the token's own UTF-8 when a character is not in it (an added
/// token), as Hugging Face's `ByteLevel` decoder does.
fn byte_level(token: &str) -> Vec<u8> {
    token
        .chars()
        .map(byte_of)
        .collect::<Option<Vec<u8>>>()
        .unwrap_or_else(|| token.as_bytes().to_vec())
}

/// GPT-2's table, inverted: printable bytes stand for themselves, the other 68 for the
/// characters from U+0100 on, in byte order.
fn byte_of(c: char) -> Option<u8> {
    static TABLE: std::sync::OnceLock<Vec<Option<u8>>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let printable =
            |b: u8| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let mut table = vec![None; 256 + 68];
        let mut next = 256;
        for b in 0..=255u8 {
            if printable(b) {
                table[usize::from(b)] = Some(b);
            } else {
                table[next] = Some(b);
                next += 1;
            }
        }
        table
    });
    table.get(c as usize).copied().flatten()
}

/// Turns a growing list of tokens into text pieces: the bytes of the tokens so far, shown as
/// far as they are whole UTF-8, an invalid run as U+FFFD (exactly as the whole reply decodes),
/// an incomplete character at the end held back until the token that completes it. Linear in
/// the reply.
#[derive(Default)]
pub struct Detokenizer {
    /// Bytes not shown yet: the start of a character.
    held: Vec<u8>,
}

impl Detokenizer {
    /// Adds a token and returns the text it completes (maybe empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> Result<String, Error> {
        self.held.extend_from_slice(tokenizer.bytes(id));
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.held) {
                Ok(text) => {
                    out.push_str(text);
                    self.held.clear();
                    return Ok(out);
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.held[..valid]).expect("valid up to"));
                    match e.error_len() {
                        // An invalid run: one replacement character, as a lossy decode gives.
                        Some(bad) => {
                            out.push('\u{fffd}');
                            self.held.drain(..valid + bad);
                        }
                        // The start of a character: held for the next token.
                        None => {
                            self.held.drain(..valid);
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is still held back (at the end of a reply), an incomplete character as U+FFFD.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.held).into_owned();
        self.held.clear();
        rest
    }
}
