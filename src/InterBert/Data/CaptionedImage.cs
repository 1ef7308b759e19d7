namespace InterBert.Data;

/// <summary>
/// One image of a dataset with its captions. <c>Id</c> is the key of its region features in a feature store;
/// <c>Location</c> says where its encoded bytes are.
/// </summary>
public sealed record CaptionedImage(string Id, string Split, ImageLocation Location, IReadOnlyList<string> Captions);
