/* afterword widget: see issue 6 */
