from bundle_format import import_keras

import_keras()  # TensorFlow's native start-up lines off the test output
