//! AI providers as plugins, end to end: the real `openai-compatible`, `anthropic` and
//! `gemini` plugins (built from `plugins/`) configured against local mock upstreams that
//! speak each vendor's wire format, behind the host's routes, failover, breakers,
//! streaming, config reload and OpenAI-compatible surface.

mod breaker;
mod failover;
mod openai_surface;
mod reload;
mod status;
mod streaming;
mod support;
