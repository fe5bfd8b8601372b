// Loads every op family into the registry.
import './elementwise.ts';
import './linalg.ts';
import './shape.ts';
import './reduce.ts';
import './nn.ts';
import './contrib.ts';
import './quantize.ts';
import './stop-gradient.ts';
