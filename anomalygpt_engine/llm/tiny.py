"""A tiny random Llama with a small byte-level BPE tokenizer, saved like any local model folder.

For tests (engine and GUI) and for trying the local-folder path without real weights; it talks
nonsense, which is exactly what the grounding and the guard must survive.
"""
from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_CORPUS = [
    "Yes, there is an anomaly in the image, at the top left of the image.",
    "No, there are no anomalies in the image. The part looks normal.",
    "Where is the anomaly? How large is it? What does it look like?",
    "The anomaly is small: about 1.2% of the image. It appears to be a scratch or a stain.",
    "This is an image of a brick wall, a metal screw, a bottle, a cable and a wooden board.",
    "center, top, bottom, left, right, 0123456789 %.,:;!?()-",
]


def save_tiny_llm(folder: str | Path, hidden_size: int = 64, layers: int = 2, context: int = 512,
                  seed: int = 0, chat_template: str | None = CHATML_TEMPLATE, init_range: float = 0.02) -> Path:
    """Write a random LlamaForCausalLM (safetensors) and its tokenizer to `folder`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(_CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>",
                                   bos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   unk_token="<|endoftext|>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(str(folder))
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=context, eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        bos_token_id=fast.convert_tokens_to_ids("<|endoftext|>"), tie_word_embeddings=True,
        initializer_range=init_range,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder), safe_serialization=True)
    return folder
