-- S3 credentials for an s3:// LAKE_DATA_PATH, from S3_* config (never hard-coded).
CREATE OR REPLACE SECRET lake_s3 (
  TYPE s3,
  KEY_ID {{key_id}},
  SECRET {{secret}},
  REGION {{region}},
  ENDPOINT {{endpoint}},
  URL_STYLE {{url_style}},
  USE_SSL {{!use_ssl}}
);
