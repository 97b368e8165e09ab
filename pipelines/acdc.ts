/**
 * The paper's ACDC study (see `_acdc_base.ts`): `deno task run pipelines/acdc.ts`.
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import { acdcBase } from "./_acdc_base.ts";

export default definePipeline({ ...acdcBase });
