// Python's sentencepiece is not part of the project; where a developer has it, tests and the benchmark
// also check that it reads our spm.model files the same way.
import { execFileSync } from 'node:child_process';

/** A Python that can `import sentencepiece`, or null. */
export function pythonWithSentencePiece(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(py, ['-c', 'import sentencepiece'], { stdio: 'ignore' });
      return py;
    } catch {
      // not there
    }
  }
  return null;
}
