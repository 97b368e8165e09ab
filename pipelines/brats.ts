/**
 * The paper's BRATS study (see `_brats_base.ts`): `deno task run pipelines/brats.ts`.
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import { bratsBase } from "./_brats_base.ts";

export default definePipeline({ ...bratsBase });
