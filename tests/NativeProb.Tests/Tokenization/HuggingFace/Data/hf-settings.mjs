// NativeProb — MIT License.
// Shared by the generators: puts truncation (setTruncation's arguments) and padding (setPadding's options),
// either null for none, on a Hugging Face tokenizer, and returns the tokenizer.json it then saves to `file`,
// whose `truncation` and `padding` are the settings in the form the loader reads.
import fs from 'node:fs';

export function applySettings(tokenizer, truncation, padding, file) {
  tokenizer.disableTruncation();
  tokenizer.disablePadding();
  if (truncation) tokenizer.setTruncation(...truncation);
  if (padding) tokenizer.setPadding(padding);
  tokenizer.save(file);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}
