"""Fine-tuning: LoRA training with PEFT and its export to GGUF adapters for llama.cpp."""
